// The live streams: incidents (queue and map), units, alarms and 112
// calls. Each runs forever and starts again after a break; what a stream
// shows is rebuilt from the server at every start, so nothing that
// changed while the console was disconnected stays on screen.

import { timestampDate } from "@bufbuild/protobuf/wkt";
import { api, codeOf, Code, setToken, sleep } from "../api";
import { CallState, type Incident } from "../gen/ngalam112/v1/dispatch_pb";
import { ACTIVE, changed, setLive, state, upsertIncident, type Stream } from "./store";

/** Runs `follow` forever, with back-off after each break. */
async function keepFollowing(which: Stream, follow: () => Promise<void>): Promise<void> {
  let delay = 500;
  for (;;) {
    try {
      await follow();
    } catch (failure) {
      if (codeOf(failure) === Code.Unauthenticated) {
        setToken(null);
        window.location.reload();
        return;
      }
    }
    setLive(which, false);
    await sleep(delay);
    delay = Math.min(delay * 2, 10_000);
  }
}

function updatedAt(incident: Incident): number {
  return incident.updatedAt ? timestampDate(incident.updatedAt).getTime() : 0;
}

/** An incident from the stream, unless the console already shows a newer
 *  copy of it (one read by the list while the event waited). */
function applyIncident(incident: Incident): void {
  const shown = state.incidents.get(incident.id);
  if (shown && updatedAt(shown) > updatedAt(incident)) {
    return;
  }
  upsertIncident(incident);
  if (state.panel.kind === "incident" && state.panel.id === incident.id) {
    changed("panel");
  }
}

/** The queue: the server marks when it follows changes, and only then is
 *  the list read, so a change made in between is on the stream. */
export function followIncidents(): Promise<void> {
  return keepFollowing("incidents", async () => {
    const stream = api.incidents.watchIncidents({ markSubscribed: true })[Symbol.asyncIterator]();
    const first = await stream.next();
    if (first.done) {
      throw new Error("the stream ended before it started");
    }
    const listed = await api.incidents.listIncidents({ statuses: ACTIVE, pageSize: 500 });
    state.incidents.clear();
    for (const incident of listed.incidents) {
      state.incidents.set(incident.id, incident);
    }
    changed("incidents");
    // A server without the marker sends a change first: kept, not lost.
    if (first.value.incident) {
      applyIncident(first.value.incident);
    }
    setLive("incidents", true);
    for (let next = await stream.next(); !next.done; next = await stream.next()) {
      if (next.value.incident) {
        applyIncident(next.value.incident);
      }
    }
  });
}

export function followUnits(): Promise<void> {
  return keepFollowing("units", async () => {
    let first = true;
    for await (const unit of api.units.watchUnits({})) {
      if (first) {
        setLive("units", true);
        first = false;
      }
      state.units.set(unit.id, unit);
      changed("units", unit.id);
    }
  });
}

/** Open alarms: the stream starts with every open one, so the banner is
 *  rebuilt at each start (an alarm acknowledged elsewhere while this
 *  console was away is gone). */
export function followAlarms(onNew: () => void): Promise<void> {
  return keepFollowing("alarms", async () => {
    const stream = api.incidents.watchAlarms({});
    state.alarms.clear();
    changed("alarms");
    // An empty stream sends nothing: up once it is opened.
    setLive("alarms", true);
    for await (const alarm of stream) {
      if (alarm.acknowledgedBy) {
        state.alarms.delete(alarm.id);
      } else {
        if (!state.alarms.has(alarm.id)) {
          onNew();
        }
        state.alarms.set(alarm.id, alarm);
      }
      changed("alarms");
    }
  });
}

/** Ringing and answered calls: every one at each start, then changes;
 *  an ended call leaves the strip. */
export function followCalls(onRinging: () => void): Promise<void> {
  return keepFollowing("calls", async () => {
    const stream = api.telephony.watchCalls({});
    state.calls.clear();
    changed("calls");
    setLive("calls", true);
    for await (const call of stream) {
      if (call.state === CallState.ENDED || call.state === CallState.ABANDONED) {
        state.calls.delete(call.callId);
      } else {
        if (call.state === CallState.RINGING && !state.calls.has(call.callId)) {
          onRinging();
        }
        state.calls.set(call.callId, call);
      }
      changed("calls");
    }
  });
}
