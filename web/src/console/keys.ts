// The call-taker's keys, shown in the header: F2 a new call, F3 the queue
// (↑ ↓ move, Enter opens), F4 answers the phone that rang longest, F8
// assigns the first recommended unit, Esc closes the panel.

import { answerOldest } from "./calls";
import { assignFirstRecommended } from "./detail";
import { focusQueue } from "./queue";
import { openPanel, showView, state } from "./store";

export function listenForKeys(): void {
  document.addEventListener("keydown", (event) => {
    if (!state.me || event.altKey || event.ctrlKey || event.metaKey) {
      return;
    }
    const action: Record<string, () => void> = {
      F2: () => openPanel({ kind: "intake" }),
      F3: () => {
        if (state.view !== "queue") {
          showView("queue");
        }
        focusQueue();
      },
      F4: answerOldest,
      F8: assignFirstRecommended,
      Escape: () => {
        if (state.panel.kind !== "none") {
          openPanel({ kind: "none" });
          focusQueue();
        }
      },
    };
    const run = action[event.key];
    if (run) {
      event.preventDefault();
      run();
    }
  });
}
