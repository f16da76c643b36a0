// The console's one state, and who is told when a part of it changes.
// Views never keep their own copy: they read `state` and redraw when told.

import type { Alarm, Call, Incident, Unit, WhoAmIResponse } from "../gen/ngalam112/v1/dispatch_pb";
import { IncidentStatus } from "../gen/ngalam112/v1/dispatch_pb";

export const ACTIVE = [IncidentStatus.PENDING, IncidentStatus.DISPATCHED, IncidentStatus.ON_SCENE];

export type View = "queue" | "units" | "reports";

/** What the right-hand panel shows. An intake may come from a call
 *  answered in the ringing strip (its id links the incident to it). */
export type Panel =
  | { kind: "none" }
  | { kind: "intake"; call?: Call }
  | { kind: "incident"; id: string };

/** The live streams; the connection shows "live" when all are up. */
export type Stream = "incidents" | "units" | "alarms" | "calls";

export interface State {
  me: WhoAmIResponse | null;
  incidents: Map<string, Incident>;
  units: Map<string, Unit>;
  alarms: Map<string, Alarm>;
  /** Ringing and answered calls (the strip). */
  calls: Map<string, Call>;
  view: View;
  panel: Panel;
  live: Record<Stream, boolean>;
}

export const state: State = {
  me: null,
  incidents: new Map(),
  units: new Map(),
  alarms: new Map(),
  calls: new Map(),
  view: "queue",
  panel: { kind: "none" },
  live: { incidents: false, units: false, alarms: false, calls: false },
};

/** The parts of the state a view can follow. */
export type Topic = "incidents" | "units" | "alarms" | "calls" | "view" | "panel" | "live";

/** A listener learns which item changed (an incident's or unit's id), or
 *  nothing when the whole part may have. */
type Listener = (id?: string) => void;

const listeners = new Map<Topic, Set<Listener>>();

/** Calls `listener` after every change of `topic`. */
export function on(topic: Topic, listener: Listener): void {
  const set = listeners.get(topic) ?? new Set();
  set.add(listener);
  listeners.set(topic, set);
}

/** Tells every listener of `topic` that it changed (only item `id`, when
 *  given). */
export function changed(topic: Topic, id?: string): void {
  for (const listener of listeners.get(topic) ?? []) {
    listener(id);
  }
}

/** Whether every live stream is up (the header's indicator). */
export function allLive(): boolean {
  return Object.values(state.live).every(Boolean);
}

/** Marks a stream up or down. */
export function setLive(stream: Stream, live: boolean): void {
  if (state.live[stream] !== live) {
    state.live[stream] = live;
    changed("live");
  }
}

/** Keeps an incident while it is active; a closed one leaves the queue. */
export function upsertIncident(incident: Incident): void {
  if (ACTIVE.includes(incident.status)) {
    state.incidents.set(incident.id, incident);
  } else {
    state.incidents.delete(incident.id);
  }
  changed("incidents", incident.id);
}

export function openPanel(panel: Panel): void {
  state.panel = panel;
  changed("panel");
}

export function showView(view: View): void {
  state.view = view;
  changed("view");
}
