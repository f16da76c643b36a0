// Logging in and the language switch, shared by the console, the crew
// page and the public page.

import { api, codeOf, Code, setToken } from "./api";
import { h } from "./format";
import { t, toggleLanguage, type Key } from "./i18n";

/** The ID / EN switch; `redraw` draws the page again in the new language. */
export function languageButton(redraw: () => void): HTMLButtonElement {
  const button = h(
    "button",
    { type: "button", class: "lang", "data-testid": "lang-toggle", title: t("language") },
    "ID / EN",
  );
  button.addEventListener("click", () => {
    toggleLanguage();
    redraw();
  });
  return button;
}

export interface LoginOptions {
  /** The page's title key. */
  title: Key;
  /** The crew page also takes a pasted unit token. */
  withToken: boolean;
  /** Called once the token is set; throwing shows "wrong". */
  onLoggedIn: () => Promise<void>;
  /** Draws the login again (after a language switch). */
  redraw: () => void;
  /** Class of the submit button (the crew page's are big). */
  buttonClass?: string;
}

/** A login form: username and password (or a pasted token). */
export function loginForm(options: LoginOptions, error = ""): HTMLFormElement {
  document.title = t(options.title);
  const username = h("input", { "data-testid": "login-username", autocomplete: "username", id: "username" });
  const password = h("input", {
    "data-testid": "login-password",
    type: "password",
    autocomplete: "current-password",
    id: "password",
  });
  const pasted = options.withToken
    ? h("textarea", { "data-testid": "login-token", rows: "2", placeholder: "n112_…", "aria-label": t("orToken") })
    : null;
  const message = h("p", { class: "error", "data-testid": "login-error", role: "alert" }, error);
  const form = h(
    "form",
    { class: "login" },
    h("h1", {}, t(options.title)),
    h("label", { for: "username" }, t("username")),
    username,
    h("label", { for: "password" }, t("password")),
    password,
    h("button", { type: "submit", class: options.buttonClass, "data-testid": "login-submit" }, t("login")),
    pasted ? h("p", { class: "muted" }, t("orToken")) : null,
    pasted,
    message,
    languageButton(options.redraw),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      if (pasted?.value.trim()) {
        setToken(pasted.value.trim());
      } else {
        const login = await api.auth.login({ username: username.value, password: password.value });
        setToken(login.token);
      }
      await options.onLoggedIn();
    } catch (failure) {
      setToken(null);
      message.textContent = codeOf(failure) === Code.ResourceExhausted ? t("loginTooMany") : t("loginWrong");
    }
  });
  queueMicrotask(() => username.focus());
  return form;
}
