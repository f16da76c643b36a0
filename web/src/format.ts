// Times in WIB, distances in km, durations in the reader's language, and
// the small DOM helpers every page uses. Enum values are worded in words.ts.

import { timestampDate, type Timestamp } from "@bufbuild/protobuf/wkt";
import type { GenEnum } from "@bufbuild/protobuf/codegenv2";
import { language, t } from "./i18n";

const WIB = "Asia/Jakarta";

/** `28 Nov 09:26` in WIB (`05 Des 09:26` in Indonesian). */
export function wib(at: Timestamp | undefined): string {
  if (!at) {
    return "—";
  }
  const date = timestampDate(at);
  const locale = language() === "id" ? "id-ID" : "en-GB";
  const day = new Intl.DateTimeFormat(locale, { timeZone: WIB, day: "2-digit", month: "short" })
    .format(date)
    .replace(".", "");
  const time = new Intl.DateTimeFormat("en-GB", {
    timeZone: WIB,
    hour: "2-digit",
    minute: "2-digit",
    hour12: false,
  }).format(date);
  return `${day} ${time}`;
}

export function secondsSince(at: Timestamp | undefined): number {
  return at ? (Date.now() - timestampDate(at).getTime()) / 1000 : 0;
}

/** `45 s`, `12 min`, `3 h 5 min` (`45 dtk`, `12 mnt`, `3 jam 5 mnt`). */
export function age(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) {
    return `${s} ${t("seconds")}`;
  }
  if (s < 3600) {
    return `${Math.floor(s / 60)} ${t("minutes")}`;
  }
  return `${Math.floor(s / 3600)} ${t("hours")} ${Math.floor((s % 3600) / 60)} ${t("minutes")}`;
}

/** A drive by road, in whole minutes (at least 1): `4 mnt, 2.4 km lewat jalan`. */
export function drive(etaS: number, roadDistanceM: number): string {
  return `${Math.max(1, Math.round(etaS / 60))} ${t("minutes")}, ${km(roadDistanceM)} ${t("byRoad")}`;
}

/** `1.2 km`. */
export function km(metres: number): string {
  return `${(metres / 1000).toFixed(1)} km`;
}

/** The proto name of an enum value (`INCIDENT_CATEGORY_MEDICAL`). */
export function enumName<T extends number>(schema: GenEnum<T>, value: T): string {
  return schema.value[value]?.name ?? String(value);
}

/** The value of a proto enum name (`PRIORITY_HIGH`), 0 if unknown. */
export function byName<T extends number>(schema: GenEnum<T>, name: string): T {
  return (schema.values.find((value) => value.name === name)?.number ?? 0) as T;
}

/** Creates an element with attributes and children. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Record<string, string | undefined> = {},
  ...children: (Node | string | null | undefined)[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value !== undefined) {
      element.setAttribute(name, value);
    }
  }
  for (const child of children) {
    if (child !== null && child !== undefined) {
      element.append(child);
    }
  }
  return element;
}

/** The present ones of `items` (for `replaceChildren`). */
export function nodes(...items: (Node | string | null | undefined)[]): (Node | string)[] {
  return items.filter((item): item is Node | string => item !== null && item !== undefined);
}
