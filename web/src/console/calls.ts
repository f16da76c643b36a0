// The ringing strip: every 112 call ringing or answered, with the number
// (or "nomor disembunyikan"), the caller's 30 days and flag, and the
// handset's fix. "Angkat" (F4 for the oldest ringing call) opens the
// intake filled in from the call.

import { timestampDate } from "@bufbuild/protobuf/wkt";
import { age, enumName, h, secondsSince } from "../format";
import { t } from "../i18n";
import { say } from "../words";
import { type Call, CallState, CallStateSchema } from "../gen/ngalam112/v1/dispatch_pb";
import { openPanel, state } from "./store";

function rangAt(call: Call): number {
  return call.rangAt ? timestampDate(call.rangAt).getTime() : 0;
}

/** Oldest first: the caller who waited longest is answered first. */
function waitingCalls(): Call[] {
  return [...state.calls.values()].sort((a, b) => rangAt(a) - rangAt(b));
}

function callerLine(call: Call): (HTMLElement | string | null)[] {
  const caller = call.caller;
  return [
    caller
      ? h("span", { class: "muted" }, ` · ${t("callHistory", { n: caller.calls, i: caller.incidents, p: caller.pranks })}`)
      : null,
    caller?.flagged ? h("span", { class: "badge flag", "data-testid": "caller-flagged" }, t("flagged", { reason: caller.flagReason })) : null,
    call.deviceLocation?.location
      ? h("span", { class: "muted" }, ` · ${t("handsetFix", { r: Math.round(call.deviceLocation.radiusM) })}`)
      : null,
  ];
}

function callItem(call: Call): HTMLElement {
  const ringing = call.state === CallState.RINGING;
  const answer = h(
    "button",
    { type: "button", class: "primary", "data-testid": "answer-call", "data-call-id": call.callId },
    `${t("answerCall")} (F4)`,
  );
  answer.addEventListener("click", () => answerCall(call));
  return h(
    "li",
    {
      "data-testid": "ringing-call",
      "data-call-id": call.callId,
      "data-state": enumName(CallStateSchema, call.state),
      class: ringing ? "call ringing" : "call",
    },
    h("b", {}, call.callerIdWithheld ? t("numberWithheld") : call.callerPhone),
    ` · ${say.callState(call.state)} ${age(secondsSince(call.rangAt))}`,
    call.state === CallState.ANSWERED && call.position ? ` · ${t("answeredAt", { position: call.position })}` : "",
    ...callerLine(call),
    " ",
    answer,
  );
}

/** Opens the intake filled in from `call` (its id links the incident). */
export function answerCall(call: Call): void {
  openPanel({ kind: "intake", call });
}

/** Answers the call that has rung longest (F4). */
export function answerOldest(): void {
  const oldest = waitingCalls().find((call) => call.state === CallState.RINGING) ?? waitingCalls()[0];
  if (oldest) {
    answerCall(oldest);
  }
}

export function renderCalls(): void {
  const strip = document.getElementById("calls");
  if (!strip) {
    return;
  }
  const calls = waitingCalls();
  strip.hidden = calls.length === 0;
  strip.replaceChildren(
    h("h2", { class: "strip-title" }, t("incomingCalls")),
    h("ul", { "aria-label": t("incomingCalls") }, ...calls.map(callItem)),
  );
}
