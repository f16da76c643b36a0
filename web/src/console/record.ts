// The timeline's detail sentences in Bahasa Indonesia. The server keeps one
// record, written in English by its own code (plan.rs, device.rs, …); the
// console reads the sentences it knows back into their parts (enum names,
// call signs, figures) and says them in Indonesian. A sentence it does not
// know is shown as written, marked English. People's own words (a decline
// reason, a resolution note, an agency's answer) are kept as typed.

import { byName } from "../format";
import { say } from "../words";
import {
  IncidentCategorySchema,
  IncidentStatusSchema,
  PrioritySchema,
  ReferralStatusSchema,
  ResolutionCodeSchema,
  UnitKindSchema,
} from "../gen/ngalam112/v1/dispatch_pb";

const category = (stored: string) => say.category(byName(IncidentCategorySchema, `INCIDENT_CATEGORY_${stored.toUpperCase()}`));
const priority = (stored: string) => say.priority(byName(PrioritySchema, `PRIORITY_${stored.toUpperCase()}`));
const status = (stored: string) => say.incidentStatus(byName(IncidentStatusSchema, `INCIDENT_STATUS_${stored.toUpperCase()}`));
const unitKind = (stored: string) => say.unitKind(byName(UnitKindSchema, `UNIT_KIND_${stored.toUpperCase()}`));
const resolution = (stored: string) => say.resolution(byName(ResolutionCodeSchema, `RESOLUTION_CODE_${stored.toUpperCase()}`));
const referral = (stored: string) => say.referralStatus(byName(ReferralStatusSchema, `REFERRAL_STATUS_${stored.toUpperCase()}`));

/** ", 2.4 km by road, about 4 min" and "; 9 min sooner than …". */
function drive(rest: string): string | null {
  const parts = rest.match(/^(?:, ([\d.]+) km by road, about (\d+) min)?(?:; (\d+) min sooner than the nearest in a straight line)?$/);
  if (!parts) {
    return null;
  }
  const [, km, minutes, sooner] = parts;
  return (
    (km ? `, ${km} km lewat jalan, sekitar ${minutes} mnt` : "") +
    (sooner ? `; ${sooner} mnt lebih cepat dari yang terdekat garis lurus` : "")
  );
}

type Reader = [RegExp, (...parts: string[]) => string | null];

const READERS: Record<string, Reader[]> = {
  incident_created: [
    [/^(\w+) (\w+) needing ([\w, ]+?)(, on hold)?$/, (p, c, kinds, hold) =>
      `${priority(p)} ${category(c)}, perlu ${kinds.split(", ").map(unitKind).join(", ")}${hold ? ", ditahan" : ""}`],
  ],
  assignment_offered: [
    [/^(.+) \((\w+)\) offered, (\d+) m away(.*)$/, (sign, kind, metres, rest) => {
      const road = drive(rest);
      return road === null ? null : `${sign} (${unitKind(kind)}) ditawari, ${metres} m jauhnya${road}`;
    }],
  ],
  status_changed: [[/^(\w+) -> (\w+)$/, (from, to) => `${status(from)} → ${status(to)}`]],
  device_location: [
    [/^handset (\S+) fix ±(\d+) m \((\d+) %\), (\d+) m from the entered location( — DISAGREES with the entered location: check with the caller)?$/,
      (method, radius, confidence, apart, disagrees) =>
        `fix ponsel ${method} ±${radius} m (${confidence} %), ${apart} m dari lokasi yang dicatat` +
        (disagrees ? " — BERBEDA dengan lokasi yang dicatat: pastikan ke penelepon" : "")],
    [/^older handset (\S+) fix \(taken (\S+) UTC\) ignored: a newer fix is kept$/, (method, at) =>
      `fix ponsel ${method} yang lebih lama (diambil ${at} UTC) diabaikan: yang lebih baru dipakai`],
  ],
  call_received: [
    [/^call (\S+)(?: on line (.+?))? rang at (\S+) WIB(?:, answered at (\S+) WIB after (\d+) s(?: at position (.+?))?|, not answered through the phone system)(?:; the call was already recorded as incident (\S+))?$/,
      (id, line, rang, answered, waited, position, earlier) =>
        `panggilan ${id}${line ? ` di saluran ${line}` : ""} berdering ${rang} WIB` +
        (answered ? `, diangkat ${answered} WIB setelah ${waited} dtk${position ? ` di posisi ${position}` : ""}` : ", tidak diangkat lewat sistem telepon") +
        (earlier ? `; panggilan ini sudah tercatat sebagai kejadian ${earlier}` : "")],
  ],
  incident_resolved: [[/^(\w+)(?:: ([\s\S]*))?$/, (code, text) => `${resolution(code)}${text ? `: ${text}` : ""}`]],
  incident_cancelled: [[/^(\w+)(?:: ([\s\S]*))?$/, (code, text) => `${resolution(code)}${text ? `: ${text}` : ""}`]],
  hold_released: [[/^released for dispatch$/, () => "dilepas untuk dikirim"]],
  caller_added: [[/^another caller \(caller (\d+)\); see the incident's callers$/, (n) => `penelepon lain (penelepon ke-${n}); lihat daftar penelepon`]],
  assignment_timed_out: [[/^no answer before the offer deadline; unit set out of service$/, () => "tidak menjawab sebelum batas waktu; unit dinonaktifkan"]],
  referral_sent: [[/^referred to (.+)$/, (agency) => `dirujuk ke ${agency}`]],
};

/** Assignment events whose detail is the crew's own words (or none). */
const CREW_WORDS = new Set(["assignment_accepted", "assignment_declined", "assignment_en_route", "assignment_on_scene", "assignment_completed"]);

const REFERRAL_ANSWER: Reader = [/^([^:]+): (\w+)(?: — ([\s\S]*))?$/, (agency, next, answer) => `${agency}: ${referral(next)}${answer ? ` — ${answer}` : ""}`];
const CLOSED_WITH_INCIDENT = /^closed with the incident$/;

/** The detail in Indonesian, or null when the sentence is not one this
 *  console knows (it is then shown as written, marked English). Empty
 *  details and people's own words come back unchanged. */
export function recordInIndonesian(kind: string, detail: string): string | null {
  if (!detail) {
    return "";
  }
  if (kind.startsWith("assignment_") && CLOSED_WITH_INCIDENT.test(detail)) {
    return "ditutup bersama kejadian";
  }
  if (CREW_WORDS.has(kind)) {
    return detail;
  }
  const readers = kind.startsWith("referral_") && kind !== "referral_sent" ? [REFERRAL_ANSWER] : (READERS[kind] ?? []);
  for (const [pattern, read] of readers) {
    const parts = detail.match(pattern);
    if (parts) {
      return read(...parts.slice(1).map((part) => part ?? ""));
    }
  }
  return null;
}
