// The queue: active incidents, most urgent and oldest first. Rows take
// the keyboard: ↑ ↓ move, Enter opens.

import { timestampDate } from "@bufbuild/protobuf/wkt";
import { age, enumName, h, secondsSince } from "../format";
import { t } from "../i18n";
import { say } from "../words";
import { AssignmentStatus, type Incident, IncidentStatusSchema } from "../gen/ngalam112/v1/dispatch_pb";
import { priorityClass } from "./mapview";
import { ACTIVE, openPanel, state } from "./store";

function sortedIncidents(): Incident[] {
  const created = (incident: Incident) => (incident.createdAt ? timestampDate(incident.createdAt).getTime() : 0);
  return [...state.incidents.values()].sort((a, b) => a.priority - b.priority || created(a) - created(b));
}

function badges(incident: Incident): (HTMLElement | null)[] {
  return [
    incident.locationDisagrees ? h("span", { class: "badge warn" }, t("locationDisagrees")) : null,
    incident.callerFlagged ? h("span", { class: "badge flag" }, t("flaggedBadge")) : null,
    incident.hold && ACTIVE.includes(incident.status)
      ? h("span", { class: "badge warn", "data-testid": "held-badge" }, t("held"))
      : null,
  ];
}

function row(incident: Incident): HTMLElement {
  const units = incident.assignments
    .filter((assignment) => assignment.status <= AssignmentStatus.ON_SCENE)
    .map((assignment) => `${assignment.unitCallSign} ${say.assignmentStatus(assignment.status)}`)
    .join(", ");
  const item = h(
    "li",
    {
      "data-testid": "incident-row",
      "data-incident-id": incident.id,
      "data-status": enumName(IncidentStatusSchema, incident.status),
      class: `row ${priorityClass(incident.priority)}`,
      tabindex: "0",
    },
    h(
      "div",
      { class: "row-head" },
      h("b", {}, say.priority(incident.priority)),
      ` ${say.category(incident.category)} · `,
      h("span", { class: "status" }, say.incidentStatus(incident.status)),
      ` · ${age(secondsSince(incident.createdAt))}`,
      ...badges(incident),
    ),
    h("div", {}, incident.address || "—"),
    h("div", { class: "muted" }, units || t("nothing")),
  );
  item.addEventListener("click", () => openPanel({ kind: "incident", id: incident.id }));
  item.addEventListener("keydown", (event) => moveInQueue(event, item, incident.id));
  return item;
}

function moveInQueue(event: KeyboardEvent, item: HTMLElement, id: string): void {
  if (event.key === "Enter") {
    event.preventDefault();
    openPanel({ kind: "incident", id });
  } else if (event.key === "ArrowDown" || event.key === "ArrowUp") {
    event.preventDefault();
    const next = event.key === "ArrowDown" ? item.nextElementSibling : item.previousElementSibling;
    (next as HTMLElement | null)?.focus();
  }
}

export function queueView(): HTMLElement {
  return h("ul", { class: "queue", "aria-label": t("queue") }, ...sortedIncidents().map(row));
}

/** Puts the keyboard on the queue's first row (F3). */
export function focusQueue(): void {
  document.querySelector<HTMLElement>("[data-testid=incident-row]")?.focus();
}

/** Redraws the queue keeping the keyboard on the row it was on. */
export function redrawQueue(view: HTMLElement): void {
  const focused = document.activeElement as HTMLElement | null;
  const focusedId = focused?.dataset.testid === "incident-row" ? focused.dataset.incidentId : undefined;
  view.replaceChildren(queueView());
  if (focusedId) {
    view.querySelector<HTMLElement>(`[data-testid=incident-row][data-incident-id="${focusedId}"]`)?.focus();
  }
}
