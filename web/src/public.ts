// The public transparency page (/publik): the month's figures per category,
// straight from PublicService (no login). Bahasa Indonesia by default, an
// English switch; nothing on this page can identify a caller or a place.

import "./public.css";
import { createClient, ConnectError } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import {
  IncidentCategory,
  PublicService,
  type CategoryStats,
} from "./gen/ngalam112/v1/dispatch_pb";
import { h } from "./format";
import { language } from "./i18n";
import { languageButton } from "./login";
import { say } from "./words";

const client = createClient(
  PublicService,
  createGrpcWebTransport({ baseUrl: window.location.origin }),
);

const text = {
  id: {
    title: "Ngalam 112 — Transparansi layanan darurat Kota Malang",
    intro:
      "Angka bulanan panggilan darurat 112 per kategori: berapa kejadian, berapa yang dikirimi unit, dan seberapa cepat unit pertama tiba. Hanya angka gabungan — tidak ada nama, nomor, alamat atau lokasi.",
    month: "Bulan",
    category: "Kategori",
    incidents: "Kejadian",
    dispatched: "Dikirimi unit",
    median: "Tiba (median)",
    p90: "Tiba (90 %)",
    within60: "Ditawarkan ≤ 60 dtk",
    prank: "Iseng",
    referred: "Dirujuk",
    none: "Belum ada kejadian pada bulan ini.",
    note: "Waktu tiba dihitung dari panggilan masuk sampai unit pertama di lokasi, tanpa panggilan iseng dan ganda. Bulan dihitung dalam WIB; bulan berjalan dihitung sampai akhir hari kemarin. Kategori dengan kurang dari 5 kejadian ditampilkan sebagai \"< 5\" tanpa angka lain, agar tidak ada satu panggilan pun yang bisa dikenali.",
    busy: "Terlalu banyak permintaan; coba lagi sebentar lagi.",
    minutes: "mnt",
  },
  en: {
    title: "Ngalam 112 — Kota Malang emergency service transparency",
    intro:
      "Monthly figures of 112 emergency calls per category: how many incidents, how many got a unit, and how fast the first unit arrived. Aggregates only — no names, numbers, addresses or locations.",
    month: "Month",
    category: "Category",
    incidents: "Incidents",
    dispatched: "Unit sent",
    median: "On scene (median)",
    p90: "On scene (90 %)",
    within60: "Offered ≤ 60 s",
    prank: "Prank",
    referred: "Referred",
    none: "No incidents in this month yet.",
    note: "Arrival time runs from the call to the first unit on scene, leaving out prank and duplicate calls. Months are counted in WIB (UTC+7); the current month runs to the end of yesterday. A category with fewer than 5 incidents shows \"< 5\" and no other figure, so that no single call can be picked out.",
    busy: "Too many requests; try again in a moment.",
    minutes: "min",
  },
};

function words() {
  return text[language()];
}

function minutes(seconds: number): string {
  return seconds > 0 ? `${(seconds / 60).toFixed(1)} ${words().minutes}` : "—";
}

function row(stats: CategoryStats): HTMLElement {
  if (stats.suppressed) {
    // Fewer than 5 incidents: nothing of the row is published.
    return h(
      "tr",
      { "data-testid": "public-row", "data-category": IncidentCategory[stats.category] ?? "", class: "suppressed" },
      h("td", {}, say.category(stats.category)),
      h("td", {}, "< 5"),
      ...Array.from({ length: 6 }, () => h("td", {}, "—")),
    );
  }
  return h(
    "tr",
    { "data-testid": "public-row", "data-category": IncidentCategory[stats.category] ?? "" },
    h("td", {}, say.category(stats.category)),
    h("td", {}, String(stats.incidents)),
    h("td", {}, String(stats.dispatched)),
    h("td", {}, minutes(stats.medianCallToOnSceneS)),
    h("td", {}, minutes(stats.p90CallToOnSceneS)),
    // The server omits the share when fewer than 5 calls were dispatched.
    h("td", {}, stats.dispatched >= 5 ? `${Math.round(stats.shareOfferedWithin60s * 100)} %` : "—"),
    h("td", {}, String(stats.prank)),
    h("td", {}, String(stats.referred)),
  );
}

let month = "";

async function render(): Promise<void> {
  const w = words();
  document.documentElement.lang = language();
  document.title = w.title;
  const app = document.getElementById("app");
  if (!app) {
    return;
  }
  const toggle = languageButton(() => void render());
  const picker = h("input", { type: "month", "data-testid": "public-month", value: month, id: "public-month" });
  picker.addEventListener("change", () => {
    month = picker.value;
    void render();
  });
  const body = h("div", { class: "table-wrap" });
  app.replaceChildren(
    h("header", {}, h("h1", {}, w.title), toggle),
    h(
      "main",
      {},
      h("p", { class: "intro" }, w.intro),
      h("label", { for: "public-month" }, w.month),
      picker,
      body,
      h("footer", {}, w.note),
    ),
  );
  try {
    const answer = await client.getPublicStats({ month });
    if (!month) {
      month = answer.month;
      picker.value = month;
    }
    body.replaceChildren(
      answer.categories.length === 0
        ? h("p", { class: "muted", "data-testid": "public-empty" }, w.none)
        : h(
            "table",
            { "data-testid": "public-table", "data-month": answer.month },
            h(
              "thead",
              {},
              h(
                "tr",
                {},
                ...[w.category, w.incidents, w.dispatched, w.median, w.p90, w.within60, w.prank, w.referred].map(
                  (title) => h("th", {}, title),
                ),
              ),
            ),
            h("tbody", {}, ...answer.categories.map(row)),
          ),
    );
  } catch (failure) {
    const message =
      failure instanceof ConnectError && failure.code === 8 ? w.busy : failure instanceof ConnectError ? failure.rawMessage : String(failure);
    body.replaceChildren(h("p", { class: "error", "data-testid": "public-error" }, message));
  }
}

void render();
