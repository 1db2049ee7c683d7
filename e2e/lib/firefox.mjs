// Launches Debian's Firefox ESR headless through puppeteer-core (WebDriver
// BiDi, no browser download), with its push service pointed at a local
// server speaking Mozilla's WebPush protocol (webpush/pushtest's Mozilla,
// started by `liaison demo` when LIAISON_DEMO_MOZILLA_PUSH is set).
import puppeteer from 'puppeteer-core';

export const firefoxPath = process.env.FIREFOX_PATH || '/usr/bin/firefox-esr';

// pushPrefs are the prefs that make headless Firefox receive and show a
// push (docs: shared WEBPUSH.md, "Testing with a real browser").
export function pushPrefs(pushServerURL) {
  return {
    'dom.push.enabled': true,
    'dom.push.connection.enabled': true,
    'dom.push.serverURL': pushServerURL,
    // ws:// on 127.0.0.1 (it wants wss:// otherwise).
    'dom.push.testing.allowInsecureServerURL': true,
    'dom.push.loglevel': 'debug',
    'dom.serviceWorkers.enabled': true,
    // The notification permission: granted by default (the push
    // service's subscribe() asks the permission manager itself and waits
    // on a prompt otherwise), and when the page asks for it.
    'permissions.default.desktop-notification': 1,
    'notification.prompt.testing': true,
    'notification.prompt.testing.allow': true,
    // Headless Firefox has no system notification backend: without this
    // every showNotification rejects (NS_ERROR_FAILURE).
    'alerts.useSystemBackend': false,
  };
}

export async function launchFirefox(pushServerURL) {
  return puppeteer.launch({
    browser: 'firefox',
    executablePath: firefoxPath,
    headless: true,
    protocolTimeout: 60000,
    extraPrefsFirefox: pushPrefs(pushServerURL),
  });
}

// mozStatus reads what the push server relayed and what Firefox answered.
export async function mozStatus(statusURL) {
  const r = await fetch(statusURL);
  if (!r.ok) throw new Error(`push server status: ${r.status}`);
  return r.json();
}

// waitFor polls fn (async, truthy = done) every 200 ms up to ms, and
// throws with describe()'s text when it runs out.
export async function waitFor(fn, ms, describe) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms: ${describe ? await describe() : ''}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
