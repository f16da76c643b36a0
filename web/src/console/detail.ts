// One incident: what, where, who called, its units and the nearest
// available ones to send (F8 assigns the first), closing, referral, EIDO,
// and the timeline.

import { api, messageOf } from "../api";
import { age, byName, drive, enumName, h, km, secondsSince, wib } from "../format";
import { language, t, type Key } from "../i18n";
import { options, say, words } from "../words";
import {
  type Agency,
  AssignmentStatusSchema,
  type CameraDistance,
  type Incident,
  ReferralStatusSchema,
  type ResolutionCode,
  ResolutionCodeSchema,
  type TimelineEvent,
  type UnitRecommendation,
} from "../gen/ngalam112/v1/dispatch_pb";
import { showHandset, showRoutes } from "./mapview";
import { recordInIndonesian } from "./record";
import { ACTIVE, changed, openPanel, state, upsertIncident } from "./store";

function closeButton(): HTMLButtonElement {
  const close = h("button", { type: "button", class: "close", "aria-label": t("close") }, "×");
  close.addEventListener("click", () => openPanel({ kind: "none" }));
  return close;
}

function labelled(label: Key, input: HTMLElement): HTMLElement {
  return h("div", { class: "field" }, h("label", { for: input.id }, t(label)), input);
}

export async function renderDetail(panel: HTMLElement, id: string): Promise<void> {
  let incident: Incident;
  try {
    incident = await api.incidents.getIncident({ id });
  } catch (failure) {
    panel.replaceChildren(closeButton(), h("p", { class: "error" }, messageOf(failure)));
    return;
  }
  const open = ACTIVE.includes(incident.status);
  const [timeline, recommendations, cameras, agencies] = await Promise.all([
    api.incidents.getIncidentTimeline({ id }).catch(() => ({ events: [] })),
    open
      ? api.incidents.recommendUnits({ incidentId: id, limit: 5 }).catch(() => ({ recommendations: [] }))
      : Promise.resolve({ recommendations: [] }),
    api.cameras.findNearbyCameras({ location: incident.location, radiusM: 2000, limit: 3 }).catch(() => ({ cameras: [] })),
    open ? api.agencies.listAgencies({}).catch(() => ({ agencies: [] })) : Promise.resolve({ agencies: [] }),
  ]);
  if (state.panel.kind !== "incident" || state.panel.id !== id) {
    return;
  }
  showHandset(incident);
  void showRoutes(incident);
  panel.replaceChildren(
    h(
      "div",
      { "data-testid": "incident-detail", "data-incident-id": id, class: "detail" },
      closeButton(),
      ...detailFacts(incident, cameras.cameras),
      h("ul", { class: "assignments" }, ...assignments(incident)),
      open ? h("h3", {}, `${t("recommended")} (F8)`) : null,
      open ? h("ul", { class: "recommended" }, ...recommendedUnits(id, recommendations.recommendations)) : null,
      detailActions(incident, agencies.agencies),
      h("h3", {}, t("timeline")),
      h("ol", { class: "timeline" }, ...timeline.events.map(timelineItem)),
    ),
  );
}

function assignments(incident: Incident): HTMLElement[] {
  return incident.assignments.map((assignment) =>
    h(
      "li",
      { "data-assignment-status": enumName(AssignmentStatusSchema, assignment.status) },
      `${assignment.unitCallSign} · ${say.assignmentStatus(assignment.status)} · ${km(assignment.distanceM)}`,
      assignment.etaS > 0 ? ` · ${drive(assignment.etaS, assignment.roadDistanceM)}` : "",
    ),
  );
}

function timelineItem(event: TimelineEvent): HTMLElement {
  return h(
    "li",
    { "data-event-kind": event.kind },
    h("span", { class: "muted" }, `${wib(event.at)} `),
    `${say.event(event.kind)} · ${event.actor}`,
    event.detail ? recordDetail(event) : "",
  );
}

/** The record's detail in the reader's language; a sentence the console
 *  cannot read back stays as the server wrote it, marked English. */
function recordDetail(event: TimelineEvent): HTMLElement {
  const indonesian = language() === "id" ? recordInIndonesian(event.kind, event.detail) : null;
  return indonesian === null
    ? h("span", { lang: "en", class: "record" }, ` — ${event.detail}`)
    : h("span", { class: "record" }, ` — ${indonesian}`);
}

function referrals(incident: Incident): HTMLElement | null {
  if (incident.referrals.length === 0) {
    return null;
  }
  return h(
    "ul",
    { class: "referrals", "data-testid": "referrals" },
    ...incident.referrals.map((referral) =>
      h(
        "li",
        { "data-testid": "referral", "data-status": enumName(ReferralStatusSchema, referral.status) },
        `${t("referredTo")} ${referral.agencyShortName}: ${say.referralStatus(referral.status)}`,
        referral.answer ? ` — ${referral.answer}` : "",
        referral.acknowledgedAt ? "" : h("span", { class: "badge warn" }, `${t("unanswered")} ${age(secondsSince(referral.sentAt))}`),
      ),
    ),
  );
}

function cameraLinks(cameras: CameraDistance[]): HTMLElement | null {
  if (cameras.length === 0) {
    return null;
  }
  return h(
    "p",
    { class: "cameras" },
    `${t("cameras")}: `,
    ...cameras.map((near) =>
      h(
        "a",
        { href: near.camera?.streamUrl ?? "#", target: "_blank", rel: "noopener noreferrer", "data-testid": "camera-link" },
        `${near.camera?.name} (${Math.round(near.distanceM)} m)`,
      ),
    ),
  );
}

/** What the incident is, where, who called, referrals, cameras, handset. */
function detailFacts(incident: Incident, cameras: CameraDistance[]): (HTMLElement | null)[] {
  const caller = incident.callerIdWithheld ? t("numberWithheld") : incident.callerPhone;
  const device = incident.deviceLocation;
  const where = incident.location ? h("span", { class: "muted" }, ` (${incident.location.lat.toFixed(5)}, ${incident.location.lon.toFixed(5)})`) : null;
  return [
    h("h2", {}, `${say.priority(incident.priority)} ${say.category(incident.category)}`),
    h("p", {}, h("b", {}, say.incidentStatus(incident.status)), ` · ${wib(incident.createdAt)}`,
      incident.resolutionCode ? ` · ${say.resolution(incident.resolutionCode)}` : ""),
    h("p", {}, incident.address, where),
    incident.description ? h("p", {}, incident.description) : null,
    h("p", {}, `${t("caller")}: ${incident.callerName} ${caller} · ${incident.callerCount} ${t("callers")}`,
      incident.callerFlagged ? h("span", { class: "badge flag" }, t("flaggedBadge")) : null),
    incident.otherCallers.length > 0
      ? h("ul", { class: "muted", "data-testid": "other-callers" },
          ...incident.otherCallers.map((other) =>
            h("li", {}, `${other.callerName} ${other.callerIdWithheld ? t("numberWithheld") : other.callerPhone} · ${wib(other.addedAt)}`)))
      : null,
    incident.hold && ACTIVE.includes(incident.status) ? h("p", { class: "warn" }, t("heldExplained")) : null,
    referrals(incident),
    cameraLinks(cameras),
    device?.location
      ? h("p", { class: incident.locationDisagrees ? "warn" : "" },
          `${t("handset")}: ${device.location.lat.toFixed(5)}, ${device.location.lon.toFixed(5)} ±${Math.round(device.radiusM)} m (${device.method})`,
          incident.locationDisagrees ? h("span", { class: "badge warn" }, t("locationDisagrees")) : null)
      : null,
  ];
}

/** The available units to send, each with its Assign button. */
function recommendedUnits(id: string, recommendations: UnitRecommendation[]): HTMLElement[] {
  return recommendations.map((recommendation) => {
    const unit = recommendation.unit;
    const assign = h("button", { type: "button", "data-testid": "assign-unit", "data-unit-id": unit?.id ?? "" }, t("assign"));
    assign.addEventListener("click", async () => {
      try {
        await api.incidents.assignUnit({ incidentId: id, unitId: unit?.id ?? "" });
        changed("panel");
      } catch (failure) {
        assign.after(h("span", { class: "error" }, messageOf(failure)));
      }
    });
    // With roads: the drive time first, as the ranking uses it.
    const eta =
      recommendation.etaS > 0
        ? h("b", { "data-testid": "recommended-eta", class: "eta" }, drive(recommendation.etaS, recommendation.roadDistanceM))
        : null;
    return h("li", {}, `${unit?.callSign} · `, eta, eta ? ` (${km(recommendation.distanceM)}) ` : `${km(recommendation.distanceM)} `, assign);
  });
}

/** Assigns the first recommended unit of the open incident (F8). */
export function assignFirstRecommended(): void {
  document.querySelector<HTMLButtonElement>("[data-testid=incident-detail] [data-testid=assign-unit]")?.click();
}

/** Release, close (with its code), refer, and the EIDO download. */
function detailActions(incident: Incident, agencies: Agency[]): HTMLElement {
  const id = incident.id;
  const open = ACTIVE.includes(incident.status);
  const actions = h("div", { class: "actions" });
  const failed = (failure: unknown) => actions.append(h("p", { class: "error" }, messageOf(failure)));
  const done = (changedIncident: Incident) => {
    upsertIncident(changedIncident);
    changed("panel");
  };
  const button = (testid: string, label: Key, run: () => Promise<unknown>) => {
    const element = h("button", { type: "button", "data-testid": testid }, t(label));
    element.addEventListener("click", () => void run().catch(failed));
    return element;
  };
  const code = h("select", { "data-testid": "resolution-code", id: "resolution-code" },
    ...options(words().resolution, (v) => enumName(ResolutionCodeSchema, v)).map((choice) => h("option", { value: choice.name }, choice.label)));
  const resolutionCode = () => byName(ResolutionCodeSchema, code.value) as ResolutionCode;
  const agencyChoice = h("select", { "data-testid": "refer-agency", id: "refer-agency" },
    ...agencies.map((agency) => h("option", { value: agency.id }, `${agency.shortName} — ${agency.name}`)));
  const release = button("release-hold", "releaseHold", async () => done(await api.incidents.releaseHold({ id })));
  release.classList.add("primary");
  actions.append(
    ...(open && incident.hold ? [release] : []),
    ...(open
      ? [
          labelled("resolutionCode", code),
          button("resolve-button", "resolve", async () => done(await api.incidents.resolveIncident({ id, resolution: "", resolutionCode: resolutionCode() }))),
          button("cancel-button", "cancelIncident", async () => done(await api.incidents.cancelIncident({ id, reason: "", resolutionCode: resolutionCode() }))),
        ]
      : []),
    ...(open && agencies.length > 0
      ? [labelled("referTo", agencyChoice), button("refer-button", "refer", async () => {
          await api.incidents.referIncident({ incidentId: id, agencyId: agencyChoice.value, note: "" });
          changed("panel");
        })]
      : []),
    button("eido-download", "eido", async () => {
      const document_ = await api.incidents.getIncidentEido({ id });
      const link = h("a", { href: URL.createObjectURL(new Blob([document_.eidoJson], { type: "application/json" })), download: `eido-${id}.json` });
      link.click();
    }),
  );
  return actions;
}
