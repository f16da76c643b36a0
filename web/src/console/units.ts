// The units view: every unit, its status and last position, and the
// dispatcher's in / out of service switch.

import { api, messageOf } from "../api";
import { age, enumName, h, secondsSince } from "../format";
import { t } from "../i18n";
import { say } from "../words";
import { type Unit, UnitStatus, UnitStatusSchema } from "../gen/ngalam112/v1/dispatch_pb";
import { changed, state } from "./store";

function serviceButton(unit: Unit): HTMLButtonElement {
  const outOfService = unit.status === UnitStatus.OUT_OF_SERVICE;
  const toggle = h(
    "button",
    { type: "button", "data-testid": "unit-service", "data-unit-id": unit.id },
    outOfService ? t("inService") : t("outOfService"),
  );
  toggle.addEventListener("click", async (event) => {
    event.stopPropagation();
    try {
      const changedUnit = await api.units.setUnitInService({ unitId: unit.id, inService: outOfService });
      state.units.set(changedUnit.id, changedUnit);
      changed("units", changedUnit.id);
    } catch (failure) {
      toggle.title = messageOf(failure);
      toggle.classList.add("failed");
    }
  });
  return toggle;
}

export function unitsView(): HTMLElement {
  const units = [...state.units.values()].sort((a, b) => a.callSign.localeCompare(b.callSign));
  const rows = units.map((unit) =>
    h(
      "li",
      {
        "data-testid": "unit-row",
        "data-unit-id": unit.id,
        "data-status": enumName(UnitStatusSchema, unit.status),
        class: "row",
      },
      h(
        "div",
        { class: "row-head" },
        h("b", {}, unit.callSign),
        ` ${say.unitKind(unit.kind)} · `,
        h("span", { class: `unit-status status-${unit.status}` }, say.unitStatus(unit.status)),
      ),
      h("div", { class: "muted" }, `${unit.agency} · ${t("positionAge", { age: age(secondsSince(unit.locationUpdatedAt)) })}`),
      serviceButton(unit),
    ),
  );
  return h("ul", { class: "units", "aria-label": t("units") }, ...rows);
}
