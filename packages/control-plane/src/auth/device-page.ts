// GET /device: the minimal approval page (spec §4.1, §4.5). No framework and
// no sign-in of its own yet: the user pastes a token they already hold (from
// `plfm auth login` on another machine, or `plfm server mint-token`) and the
// page calls POST /v1/auth/device/approve with it. Real sign-in comes with
// the console. The page itself is static and unauthenticated; the token is
// kept only in the form field and sent only to this origin.
import { createHash } from "node:crypto";

const script = `
const form = document.getElementById("f");
const out = document.getElementById("out");
const code = new URLSearchParams(location.search).get("user_code");
if (code) form.user_code.value = code;
form.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const decision = ev.submitter && ev.submitter.value === "deny" ? "deny" : "approve";
  out.textContent = "…";
  try {
    const res = await fetch("/v1/auth/device/approve", {
      method: "POST",
      headers: {
        "content-type": "application/json",
        authorization: "Bearer " + form.token.value.trim(),
      },
      body: JSON.stringify({ user_code: form.user_code.value.trim(), decision }),
    });
    const body = await res.json();
    out.textContent = res.ok
      ? (body.status === "approved" ? "Approved: " : "Denied: ") + body.client_name + " (" + body.user_code + ")"
      : (body.detail || body.title || "failed") + " [" + (body.code || res.status) + "]";
  } catch (err) {
    out.textContent = "Request failed: " + err;
  }
});
`;

/** The page's HTML; the user code is filled in from `?user_code=` by the script, never by the server. */
export const devicePage = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>plfm: approve a device</title>
<style>
body { font: 16px/1.5 system-ui, sans-serif; max-width: 32rem; margin: 3rem auto; padding: 0 1rem; }
label { display: block; margin-top: 1rem; }
input { width: 100%; font: inherit; padding: .4rem; box-sizing: border-box; }
button { margin-top: 1rem; margin-right: .5rem; font: inherit; padding: .4rem 1rem; }
#out { margin-top: 1rem; font-weight: bold; }
small { color: #555; }
</style>
</head>
<body>
<h1>Approve a device</h1>
<p>A device asked to sign in to plfm as you. Check that the code matches the one it shows.</p>
<form id="f">
<label>User code <input name="user_code" required autocomplete="off" placeholder="ABCD-2345"></label>
<label>Your access token <input name="token" type="password" required autocomplete="off" placeholder="plfm_at_…"></label>
<small>Paste a token you already hold (<code>plfm auth status</code> elsewhere, or <code>plfm server mint-token</code>).
Sign-in on this page comes with the console.</small>
<div><button type="submit" value="approve">Approve</button><button type="submit" value="deny">Deny</button></div>
</form>
<p id="out" role="status"></p>
<script>${script}</script>
</body>
</html>
`;

const scriptHash = createHash("sha256").update(script).digest("base64");

/**
 * Only our own inline script may run, nothing may frame the page (an approval
 * button under someone else's overlay), and nothing is cached or leaked in a
 * Referer.
 */
export const DEVICE_PAGE_HEADERS: Record<string, string> = {
  "content-security-policy": `default-src 'none'; script-src 'sha256-${scriptHash}'; style-src 'unsafe-inline'; connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'`,
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
  "cache-control": "no-store",
  "x-content-type-options": "nosniff",
};
