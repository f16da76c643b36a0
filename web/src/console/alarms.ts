// Crews in danger: a banner per open alarm, with where and "acknowledge",
// and a sound when one comes.

import { api, messageOf } from "../api";
import { h, wib } from "../format";
import { t } from "../i18n";
import type { Alarm } from "../gen/ngalam112/v1/dispatch_pb";
import { centreOn } from "./mapview";
import { changed, state } from "./store";

let audio: AudioContext | null = null;

/** A short two-tone alert, where the browser allows sound. */
export function beep(high = 880, low = 660): void {
  try {
    audio ??= new AudioContext();
    const oscillator = audio.createOscillator();
    const gain = audio.createGain();
    oscillator.frequency.value = high;
    gain.gain.value = 0.2;
    oscillator.connect(gain).connect(audio.destination);
    oscillator.start();
    oscillator.frequency.setValueAtTime(low, audio.currentTime + 0.25);
    oscillator.stop(audio.currentTime + 0.5);
  } catch {
    // No sound allowed yet: the banner still shows.
  }
}

function banner(alarm: Alarm): HTMLElement {
  const acknowledge = h("button", { type: "button", "data-testid": "alarm-ack", "data-alarm-id": alarm.id }, t("acknowledge"));
  acknowledge.addEventListener("click", async () => {
    try {
      const done = await api.incidents.acknowledgeAlarm({ alarmId: alarm.id });
      state.alarms.delete(done.id);
      changed("alarms");
    } catch (failure) {
      acknowledge.title = messageOf(failure);
    }
  });
  const location = alarm.location;
  const where = location
    ? h(
        "a",
        {
          href: `https://www.openstreetmap.org/?mlat=${location.lat}&mlon=${location.lon}#map=17/${location.lat}/${location.lon}`,
          target: "_blank",
          rel: "noreferrer",
        },
        t("openMap"),
      )
    : null;
  const show = h("button", { type: "button" }, t("showOnMap"));
  show.addEventListener("click", () => location && centreOn(location.lat, location.lon));
  return h(
    "div",
    { class: "alarm-banner", "data-testid": "alarm-banner", "data-alarm-id": alarm.id, role: "alert" },
    `${t("alarm", { unit: alarm.unitCallSign })} · ${wib(alarm.raisedAt)} ${alarm.note} `,
    show,
    where,
    acknowledge,
  );
}

export function renderAlarms(): void {
  document.getElementById("alarms")?.replaceChildren(...[...state.alarms.values()].map(banner));
}
