// The report: response times per category and priority, and the 112
// calls' figures (answered within 10 / 20 s, answer → incident recorded).

import { api, messageOf } from "../api";
import { h } from "../format";
import { t, type Key } from "../i18n";
import { say } from "../words";
import type { ResponseTimeReport } from "../gen/ngalam112/v1/dispatch_pb";

const share = (part: number, whole: number) => (whole ? `${((100 * part) / whole).toFixed(1)} %` : "—");
const percent = (value: number) => `${(100 * value).toFixed(1)} %`;

function responseTable(report: ResponseTimeReport): HTMLElement {
  const s = report.targetSeconds;
  return h(
    "table",
    {},
    h(
      "tr",
      {},
      h("th", {}, t("category")),
      h("th", {}, t("priority")),
      h("th", {}, t("calls")),
      h("th", {}, t("offeredInTime", { s })),
      h("th", {}, t("acceptedInTime", { s })),
    ),
    ...report.rows.map((row) =>
      h(
        "tr",
        {},
        h("td", {}, row.category ? say.category(row.category) : t("all")),
        h("td", {}, row.priority ? say.priority(row.priority) : t("all")),
        h("td", {}, String(row.incidents)),
        h("td", {}, share(row.offeredWithinTarget, row.incidents)),
        h("td", {}, share(row.acceptedWithinTarget, row.incidents)),
      ),
    ),
  );
}

function callFigures(report: ResponseTimeReport): HTMLElement {
  if (report.calls === 0) {
    return h("p", { class: "muted", "data-testid": "report-calls" }, t("noPhoneCalls"));
  }
  const recorded =
    report.callsRecorded > 0
      ? `${Math.round(report.p50AnswerToIncidentS)} / ${Math.round(report.p90AnswerToIncidentS)} ${t("seconds")}`
      : "—";
  const line = (label: string, value: string, name: string) =>
    h("tr", { "data-figure": name }, h("th", {}, label), h("td", {}, value));
  return h(
    "table",
    { "data-testid": "report-calls", class: "figures" },
    h("caption", {}, t("phoneCalls")),
    line(t("calls"), String(report.calls), "calls"),
    line(t("abandonedCalls"), String(report.abandonedCalls), "abandoned"),
    line(t("answeredWithin", { s: 10 }), percent(report.answeredWithin10sShare), "answered-10s"),
    line(t("answeredWithin", { s: 20 }), percent(report.answeredWithin20sShare), "answered-20s"),
    line(t("answerToRecorded"), recorded, "answer-to-recorded"),
  );
}

export function reportView(): HTMLElement {
  const period = h("select", { "data-testid": "report-period", id: "report-period" });
  for (const [hours, key] of [
    [24, "last24h"],
    [24 * 7, "last7d"],
    [24 * 30, "last30d"],
  ] as [number, Key][]) {
    period.append(h("option", { value: String(hours) }, t(key)));
  }
  const body = h("div", { "data-testid": "report" });
  const load = async () => {
    const hours = Number(period.value);
    try {
      const report = await api.incidents.getResponseTimeReport({
        since: { seconds: BigInt(Math.floor(Date.now() / 1000 - hours * 3600)), nanos: 0 },
      });
      body.replaceChildren(
        responseTable(report),
        h("p", { class: "muted" }, t("leftOut", { p: report.prankIncidents, d: report.duplicateIncidents })),
        callFigures(report),
      );
    } catch (failure) {
      body.replaceChildren(h("p", { class: "error" }, messageOf(failure)));
    }
  };
  period.addEventListener("change", () => void load());
  void load();
  return h("div", { class: "reports" }, h("label", { for: "report-period" }, t("period"), " "), period, body);
}
