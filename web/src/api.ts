// The browser's client of the Ngalam 112 services: the generated service
// descriptors over gRPC-Web to this page's own origin, with the session
// token (kept in sessionStorage only, never in a URL) as a Bearer header.

import { createClient, type Client, type Interceptor, ConnectError, Code } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import {
  AgencyService,
  AuthService,
  CallerService,
  CameraService,
  FieldService,
  IncidentService,
  TelephonyService,
  UnitService,
} from "./gen/ngalam112/v1/dispatch_pb";

const TOKEN_KEY = "ngalam112.token";

export function token(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(value: string | null): void {
  if (value) {
    sessionStorage.setItem(TOKEN_KEY, value);
  } else {
    sessionStorage.removeItem(TOKEN_KEY);
  }
}

const bearer: Interceptor = (next) => async (request) => {
  const current = token();
  if (current) {
    request.header.set("authorization", `Bearer ${current}`);
  }
  return next(request);
};

const transport = createGrpcWebTransport({
  baseUrl: window.location.origin,
  interceptors: [bearer],
});

export interface Api {
  auth: Client<typeof AuthService>;
  incidents: Client<typeof IncidentService>;
  units: Client<typeof UnitService>;
  field: Client<typeof FieldService>;
  callers: Client<typeof CallerService>;
  cameras: Client<typeof CameraService>;
  agencies: Client<typeof AgencyService>;
  telephony: Client<typeof TelephonyService>;
}

export const api: Api = {
  auth: createClient(AuthService, transport),
  incidents: createClient(IncidentService, transport),
  units: createClient(UnitService, transport),
  field: createClient(FieldService, transport),
  callers: createClient(CallerService, transport),
  cameras: createClient(CameraService, transport),
  agencies: createClient(AgencyService, transport),
  telephony: createClient(TelephonyService, transport),
};

/** The server's message for a failed call (it names the field for bad input). */
export function messageOf(error: unknown): string {
  if (error instanceof ConnectError) {
    return error.rawMessage;
  }
  return String(error);
}

export function codeOf(error: unknown): Code | null {
  return error instanceof ConnectError ? error.code : null;
}

export { Code };

/**
 * A new request id for one call (a UUID v4). `crypto.randomUUID` exists only
 * on HTTPS or localhost; a console opened over plain HTTP by address on the
 * centre's LAN uses `crypto.getRandomValues`, which exists everywhere.
 */
export function newRequestId(): string {
  if (typeof crypto.randomUUID === "function" && window.isSecureContext) {
    return crypto.randomUUID();
  }
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Waits `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
