// What both pages' maps share: Kota Malang's centre and outline, and the
// tile layer the server was configured with (none: a plain background).

import * as L from "leaflet";

export const MALANG_CENTRE: L.LatLngTuple = [-7.977, 112.634];

/** The city's bounding box (about 111 km²). */
export const MALANG_BOUNDS: L.LatLngBoundsExpression = [
  [-8.05, 112.57],
  [-7.9, 112.7],
];

/** The tile layer from `--map-tiles` (a `<meta name="map-tiles">`), if any. */
export function tileLayer(): L.TileLayer | null {
  const template = document.querySelector<HTMLMetaElement>('meta[name="map-tiles"]')?.content ?? "";
  if (!template) {
    return null;
  }
  return L.tileLayer(template, {
    maxZoom: 19,
    attribution: "© OpenStreetMap contributors",
  });
}

/** A drive by road (`FieldService/GetRoute`) drawn on `map`, testid `route`. */
export function drawRoute(map: L.Map, points: { lat: number; lon: number }[]): L.Polyline {
  const line = L.polyline(
    points.map((point) => [point.lat, point.lon] as L.LatLngTuple),
    { className: "route", interactive: false },
  ).addTo(map);
  line.getElement()?.setAttribute("data-testid", "route");
  return line;
}

export function addCityOutline(map: L.Map): void {
  L.rectangle(MALANG_BOUNDS, { className: "city-outline", interactive: false, fill: false }).addTo(map);
}
