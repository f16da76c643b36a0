// The live map: incidents and units as markers kept in step with the
// state, the intake's pin, the handset's fix and the units' routes.

import * as L from "leaflet";
import { api } from "../api";
import { h } from "../format";
import { addCityOutline, drawRoute, MALANG_BOUNDS, tileLayer } from "../map";
import { say } from "../words";
import {
  AssignmentStatus,
  IncidentCategory,
  type Incident,
  Priority,
  UnitStatus,
  type Unit,
} from "../gen/ngalam112/v1/dispatch_pb";
import { openPanel, showView, state } from "./store";

let map: L.Map | null = null;
const incidentMarkers = new Map<string, L.Marker>();
const unitMarkers = new Map<string, L.Marker>();
let intakePin: L.Marker | null = null;
let handset: L.Layer | null = null;
let routes: L.Layer[] = [];

const CATEGORY_LETTER: Record<IncidentCategory, string> = {
  [IncidentCategory.UNSPECIFIED]: "?",
  [IncidentCategory.MEDICAL]: "M",
  [IncidentCategory.FIRE]: "F",
  [IncidentCategory.TRAFFIC_ACCIDENT]: "T",
  [IncidentCategory.CRIME]: "C",
  [IncidentCategory.RESCUE]: "R",
  [IncidentCategory.DISASTER]: "D",
  [IncidentCategory.OTHER]: "O",
};

const PRIORITY_CLASS: Record<Priority, string> = {
  [Priority.UNSPECIFIED]: "normal",
  [Priority.CRITICAL]: "critical",
  [Priority.HIGH]: "high",
  [Priority.NORMAL]: "normal",
  [Priority.LOW]: "low",
};

export function priorityClass(priority: Priority): string {
  return `priority-${PRIORITY_CLASS[priority]}`;
}

/** Draws the map into `element`; a click calls `onClick` (the intake pin). */
export function createMap(element: HTMLElement, onClick: (lat: number, lon: number) => void): void {
  map?.remove();
  map = L.map(element, { zoomControl: true }).fitBounds(MALANG_BOUNDS);
  const resized = map;
  // The detail panel opening or closing resizes the map.
  new ResizeObserver(() => resized.invalidateSize()).observe(element);
  tileLayer()?.addTo(map);
  addCityOutline(map);
  map.on("click", (event: L.LeafletMouseEvent) => onClick(event.latlng.lat, event.latlng.lng));
  incidentMarkers.clear();
  unitMarkers.clear();
  intakePin = null;
  handset = null;
  routes = [];
  syncIncidents();
  for (const unit of state.units.values()) {
    placeUnit(unit);
  }
}

/** The marker of incident `id` as the state has it (gone when closed). */
export function syncIncident(id: string): void {
  const incident = state.incidents.get(id);
  if (incident) {
    placeIncident(incident);
  } else {
    incidentMarkers.get(id)?.remove();
    incidentMarkers.delete(id);
  }
}

/** Markers for exactly the incidents in the state. */
export function syncIncidents(): void {
  for (const [id, marker] of incidentMarkers) {
    if (!state.incidents.has(id)) {
      marker.remove();
      incidentMarkers.delete(id);
    }
  }
  for (const incident of state.incidents.values()) {
    placeIncident(incident);
  }
}

function placeIncident(incident: Incident): void {
  if (!map || !incident.location) {
    return;
  }
  const icon = L.divIcon({
    className: `incident-marker ${priorityClass(incident.priority)}`,
    html: CATEGORY_LETTER[incident.category],
    iconSize: [26, 26],
  });
  const position: L.LatLngExpression = [incident.location.lat, incident.location.lon];
  let marker = incidentMarkers.get(incident.id);
  if (marker) {
    marker.setLatLng(position).setIcon(icon);
  } else {
    marker = L.marker(position, { icon, title: incident.address, alt: say.category(incident.category) }).addTo(map);
    marker.on("click", () => openPanel({ kind: "incident", id: incident.id }));
    incidentMarkers.set(incident.id, marker);
  }
  marker.getElement()?.setAttribute("data-incident-id", incident.id);
}

export function placeUnit(unit: Unit): void {
  if (!map || !unit.location) {
    return;
  }
  const statusClass = unit.status === UnitStatus.AVAILABLE ? "available" : unit.status === UnitStatus.ASSIGNED ? "assigned" : "out-of-service";
  const icon = L.divIcon({
    className: `unit-marker status-${statusClass}`,
    html: say.unitKind(unit.kind).charAt(0),
    iconSize: [22, 22],
  });
  const position: L.LatLngExpression = [unit.location.lat, unit.location.lon];
  let marker = unitMarkers.get(unit.id);
  if (marker) {
    marker.setLatLng(position).setIcon(icon);
  } else {
    marker = L.marker(position, { icon, title: unit.callSign, alt: unit.callSign, zIndexOffset: -100 }).addTo(map);
    marker.on("click", () => {
      showView("units");
      document.querySelector(`[data-testid=unit-row][data-unit-id="${unit.id}"]`)?.scrollIntoView();
    });
    unitMarkers.set(unit.id, marker);
  }
  // A call sign is the user's text: given to Leaflet as a text node's
  // element, never as a string (Leaflet would parse a string as HTML).
  marker.bindTooltip(h("span", {}, `${unit.callSign} · ${say.unitStatus(unit.status)}`));
  marker.getElement()?.setAttribute("data-unit-id", unit.id);
}

/** The intake's draggable pin; dragging it calls `moved`. */
export function setPin(lat: number, lon: number, moved: (lat: number, lon: number) => void): void {
  if (!map) {
    return;
  }
  if (intakePin) {
    intakePin.setLatLng([lat, lon]);
    return;
  }
  intakePin = L.marker([lat, lon], {
    draggable: true,
    alt: "pin",
    icon: L.divIcon({ className: "intake-pin", html: "+", iconSize: [28, 28] }),
  }).addTo(map);
  intakePin.on("dragend", () => {
    const position = intakePin?.getLatLng();
    if (position) {
      moved(position.lat, position.lng);
    }
  });
  map.panTo([lat, lon]);
}

/** Takes off what belonged to the last panel (pin, handset, routes). */
export function clearPanelLayers(): void {
  intakePin?.remove();
  intakePin = null;
  handset?.remove();
  handset = null;
  for (const layer of routes) {
    layer.remove();
  }
  routes = [];
}

/** The handset's fix on the map, with a line to the entered location. */
export function showHandset(incident: Incident): void {
  const device = incident.deviceLocation;
  if (!map || !device?.location || !incident.location) {
    return;
  }
  handset?.remove();
  handset = L.layerGroup([
    L.circle([device.location.lat, device.location.lon], { radius: device.radiusM, className: "handset" }),
    L.polyline(
      [
        [incident.location.lat, incident.location.lon],
        [device.location.lat, device.location.lon],
      ],
      { className: "handset-line" },
    ),
  ]).addTo(map);
}

/** With roads, each open assignment's way from its unit to the incident. */
export async function showRoutes(incident: Incident): Promise<void> {
  const onRoads = incident.assignments.filter(
    (assignment) => assignment.etaS > 0 && assignment.status <= AssignmentStatus.ON_SCENE,
  );
  const found = await Promise.all(
    onRoads.map((assignment) => api.field.getRoute({ assignmentId: assignment.id }).catch(() => null)),
  );
  if (state.panel.kind !== "incident" || state.panel.id !== incident.id || !map) {
    return;
  }
  let bounds: L.LatLngBounds | null = null;
  for (const route of found) {
    if (route && route.points.length > 1) {
      const line = drawRoute(map, route.points);
      routes.push(line);
      bounds = bounds ? bounds.extend(line.getBounds()) : line.getBounds();
    }
  }
  // The whole way in view: the dispatcher sees where the unit comes from.
  if (bounds) {
    map.fitBounds(bounds, { padding: [40, 40], maxZoom: 16 });
  } else if (incident.location) {
    map.panTo([incident.location.lat, incident.location.lon]);
  }
}

export function centreOn(lat: number, lon: number, zoom = 16): void {
  map?.setView([lat, lon], zoom);
}
