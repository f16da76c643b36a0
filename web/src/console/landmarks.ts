// Places a caller names instead of an address: the intake's location
// field takes one of these, or "lat, lon" typed. Positions are approximate
// (within about 100 m; read off OpenStreetMap, © OpenStreetMap
// contributors, ODbL).

export interface Landmark {
  name: string;
  lat: number;
  lon: number;
}

export const LANDMARKS: Landmark[] = [
  { name: "Balai Kota Malang (Jl. Tugu 1)", lat: -7.977, lon: 112.634 },
  { name: "Alun-Alun Merdeka", lat: -7.9826, lon: 112.6308 },
  { name: "Stasiun Malang Kota Baru", lat: -7.9775, lon: 112.6371 },
  { name: "RSUD Dr. Saiful Anwar (RSSA)", lat: -7.9725, lon: 112.6315 },
  { name: "Universitas Brawijaya", lat: -7.9525, lon: 112.6145 },
  { name: "Stadion Gajayana", lat: -7.976, lon: 112.624 },
  { name: "Pasar Besar Malang", lat: -7.988, lon: 112.631 },
  { name: "Terminal Arjosari", lat: -7.933, lon: 112.658 },
  { name: "Gereja Katedral Ijen", lat: -7.972, lon: 112.621 },
  { name: "Jembatan Kedungkandang", lat: -7.991, lon: 112.644 },
];

/** `lat, lon` typed (decimal degrees), or a landmark's name. */
export function parseLocation(text: string): { lat: number; lon: number } | null {
  const typed = text.trim().match(/^(-?\d+(?:\.\d+)?)\s*[,;\s]\s*(-?\d+(?:\.\d+)?)$/);
  if (typed) {
    const lat = Number(typed[1]);
    const lon = Number(typed[2]);
    return Math.abs(lat) <= 90 && Math.abs(lon) <= 180 ? { lat, lon } : null;
  }
  const wanted = text.trim().toLowerCase();
  if (!wanted) {
    return null;
  }
  const found =
    LANDMARKS.find((landmark) => landmark.name.toLowerCase() === wanted) ??
    LANDMARKS.find((landmark) => landmark.name.toLowerCase().startsWith(wanted));
  return found ? { lat: found.lat, lon: found.lon } : null;
}
