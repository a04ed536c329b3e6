// The dashboard in a real browser: Debian's chromium, headless, driven over the DevTools
// protocol by puppeteer-core (no browser is downloaded). It starts slb and three slb-backend
// processes that register by heartbeat, opens the page on slb's admin port and checks what an
// operator would: three rows up; a backend killed with SIGKILL turns its row down within 2 s
// without a reload; the drain button makes /status say draining; nothing is fetched from
// anywhere but slb; and with 200 backends the table scrolls and the chart shows the busiest
// 10 plus the others summed. The screenshot (of the three-backend view) is kept as an artifact.
// A second slb serves 50 services from a config file: each has a collapsible section (collapsed,
// as there are so many) whose header shows its live count; a backend of "api" killed with
// SIGKILL turns down in api's section (and api's count drops) while "web" stays whole; the
// filter box narrows the sections to those that match and opens them.
//
// Environment: SLB_BIN_DIR (the binaries), SLB_CHROMIUM (default /usr/bin/chromium),
// SLB_SCREENSHOT (where the PNG goes), SLB_SKIP_LOG (where a skip's reason goes). Exit 0 pass,
// 1 fail, 77 skip (no browser can start).
import { spawn } from "node:child_process";
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";

const BIN = process.env.SLB_BIN_DIR || "build";
const CHROMIUM = process.env.SLB_CHROMIUM || "/usr/bin/chromium";
const SCREENSHOT = process.env.SLB_SCREENSHOT || path.join(BIN, "dashboard.png");
const children = [];
let browser = null, profile = null;

function fail(msg) {
	console.error("FAIL: " + msg);
	throw new Error(msg);
}

/* Says why the test cannot run and logs it as run.sh does (a CI run fails on it); exit 77. */
function skip(reason, msg) {
	console.log("SKIP " + reason + ": " + msg);
	if (process.env.SLB_SKIP_LOG) appendFileSync(process.env.SLB_SKIP_LOG, reason + "\tbrowser/dashboard\t" + msg + "\n");
	process.exitCode = 77;
}

function freePort() {
	return new Promise((resolve, reject) => {
		const s = net.createServer();
		s.on("error", reject);
		s.listen(0, "127.0.0.1", () => { const p = s.address().port; s.close(() => resolve(p)); });
	});
}

/* Starts a binary and resolves once its output holds `ready`; rejects if it exits first. */
function start(name, args, ready) {
	return new Promise((resolve, reject) => {
		const p = spawn(path.join(BIN, name), args, { stdio: ["ignore", "pipe", "pipe"] });
		let out = "";
		children.push(p);
		const timer = setTimeout(() => reject(new Error(name + " not ready:\n" + out)), 10000);
		const onData = d => { out += d; if (out.includes(ready)) { clearTimeout(timer); resolve(p); } };
		p.stdout.on("data", onData);
		p.stderr.on("data", onData);
		p.on("exit", code => { clearTimeout(timer); reject(new Error(name + " exited " + code + ":\n" + out)); });
	});
}

/* Starts name with args(ports) on n fresh ports, again on fresh ones (up to 5 times) when a
 * port was taken between the pick and the bind, as testproc_start does for the C tests.
 * Resolves to { proc, ports }. */
async function startOnFreePorts(name, n, args, ready) {
	for (let attempt = 0; attempt < 5; attempt++) {
		const ports = [];
		while (ports.length < n) {
			const p = await freePort();
			if (!ports.includes(p)) ports.push(p);
		}
		try {
			return { proc: await start(name, args(ports), ready), ports };
		} catch (e) {
			if (!/already in use/i.test(String(e))) throw e;
		}
	}
	fail(name + " lost its ports 5 times");
}

async function startSlb() {
	const { ports: [listen, hb, admin] } = await startOnFreePorts("slb", 3, ([l, h, a]) => ["--listen",
		"127.0.0.1:" + l, "--heartbeat-listen", "127.0.0.1:" + h, "--admin", "127.0.0.1:" + a, "--workers", "1"],
	"listening on");
	return { listen, hb, admin };
}

async function startBackend(slb, name) {
	const { ports: [port] } = await startOnFreePorts("slb-backend", 1, ([p]) => ["--listen", "127.0.0.1:" + p,
		"--name", name, "--heartbeat", "127.0.0.1:" + slb.hb], "listening on");
	return "127.0.0.1:" + port;
}

async function status(slb) {
	const r = await fetch("http://127.0.0.1:" + slb.admin + "/status");
	return r.json();
}

async function until(what, fn, timeoutMs) {
	const deadline = Date.now() + timeoutMs;
	while (Date.now() < deadline) {
		if (await fn()) return;
		await new Promise(r => setTimeout(r, 20));
	}
	fail(what + " within " + timeoutMs + " ms");
}

/* Traffic on fresh connections (agent: false) until stopped, so the rates and the chart have
 * something to show. Errors (the killed backend) are the point of the test, not a failure. */
function traffic(slb) {
	let on = true, i = 0;
	const one = () => {
		if (!on) return;
		const req = http.get({ host: "127.0.0.1", port: slb.listen, path: "/bytes/" + 20000 * (1 + (i++ % 7)),
			agent: false }, res => { res.resume(); res.on("end", () => setTimeout(one, 40)); });
		req.on("error", () => setTimeout(one, 40));
	};
	for (let k = 0; k < 3; k++) one();
	return () => { on = false; };
}

async function launch(puppeteer) {
	profile = mkdtempSync(path.join(os.tmpdir(), "slb-chromium-"));
	try {
		browser = await puppeteer.launch({
			executablePath: CHROMIUM, headless: true, userDataDir: profile,
			args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
				"--disable-component-update", "--disable-sync", "--no-first-run"],
		});
	} catch (e) {
		skip("no-browser", "chromium at " + CHROMIUM + " cannot start: " + e.message.split("\n")[0]);
		return null;
	}
	return browser;
}

const rowState = addr => document.querySelector(`tr[data-addr="${addr}"]`)?.dataset.state;

async function checkLive(page, slb, addrs, backends) {
	await page.waitForFunction(() => document.querySelectorAll('#backends tr[data-state="up"]').length === 3,
		{ timeout: 10000 });
	await new Promise(r => setTimeout(r, 4000)); /* a few samples for the rates */
	/* a backend that served traffic shows its measured connect time and time to first byte */
	for (const col of ["connect", "ttfb"]) {
		const shown = await page.$eval(`tr[data-addr="${addrs[2]}"] td.${col}`, td => td.textContent);
		if (!/^\d+\.\d$/.test(shown)) fail(`the ${col} column shows "${shown}" for a backend with traffic`);
	}
	/* the row is there and up before the kill, so turning down is the page's doing */
	const before = await page.evaluate(rowState, addrs[1]);
	if (before !== "up") fail(`the row of ${addrs[1]} is "${before}" before the kill, not up`);
	backends[1].kill("SIGKILL");
	const t0 = Date.now();
	await page.waitForFunction(a => document.querySelector(`tr[data-addr="${a}"]`)?.dataset.state === "down",
		{ timeout: 2000, polling: 20 }, addrs[1])
		.catch(async () => fail("the killed backend's row did not turn down within 2000 ms: it is " +
			await page.evaluate(rowState, addrs[1])));
	console.log("killed backend's row down after " + (Date.now() - t0) + " ms");
	await page.click(`tr[data-addr="${addrs[0]}"] button[data-action="drain"]`);
	await until("/status saying draining after the click", async () =>
		(await status(slb)).backends.find(b => b.address === addrs[0])?.state === "draining", 2000);
	await page.waitForFunction((a) => document.querySelector(`tr[data-addr="${a}"]`)?.dataset.state === "draining",
		{ timeout: 2000 }, addrs[0]);
}

/* 200 backends: the table scrolls inside its box, the legend has the top 10 and "others". */
async function checkMany(page, slb) {
	for (let i = 0; i < 197; i++) {
		const r = await fetch("http://127.0.0.1:" + slb.admin + "/backends", { method: "POST",
			body: JSON.stringify({ address: "127.0.0.2:" + (20000 + i), name: "many" + i }) });
		if (r.status !== 200) fail("adding backend " + i + ": " + r.status);
	}
	const want = (await status(slb)).backends.length; /* 200, or 199 once the killed one expired */
	await page.waitForFunction(n => document.querySelectorAll("#backends tbody tr").length === n, { timeout: 5000 }, want)
		.catch(async () => fail("rows: " + await page.$$eval("#backends tbody tr", r => r.length) + ", in /status: " + want));
	const scroll = await page.$eval(".scroll", s => ({ h: s.clientHeight, sh: s.scrollHeight }));
	if (!(scroll.sh > scroll.h && scroll.h <= 420)) fail("the table does not scroll: " + JSON.stringify(scroll));
	await page.waitForFunction(() => document.querySelectorAll("#legend span").length === 11, { timeout: 5000 })
		.catch(() => fail("the legend is not the busiest 10 plus others"));
}

const N_SERVICES = 50, WAIT_MS = 15000; /* generous: the machine running the tests may be loaded */

/* slb-backend without heartbeats: a static backend of a service in the config file. */
async function startPlainBackend(name) {
	const { ports: [port] } = await startOnFreePorts("slb-backend", 1, ([p]) => ["--listen", "127.0.0.1:" + p,
		"--name", name], "listening on");
	return "127.0.0.1:" + port;
}

/* The config of N_SERVICES services: "web" with one real backend, "api" with two, both
 * checked by TCP every 200 ms so that a killed one goes down; the others each a backend on
 * 127.0.0.3 that nobody probes (up, as static backends without a check are). */
function servicesConf(ports, web, api) {
	const check = "check = tcp\ncheck-interval = 200\ncheck-timeout = 150\nfall = 1\n";
	let text = "[service web]\nlisten = 127.0.0.1:" + ports[1] + "\nbackend = " + web + ",name=web1\n" + check;
	text += "[service api]\nlisten = 127.0.0.1:" + ports[2] + "\nbackend = " + api[0] + ",name=api1\nbackend = " +
		api[1] + ",name=api2\n" + check;
	for (let i = 3; i <= N_SERVICES; i++)
		text += "[service svc" + String(i).padStart(2, "0") + "]\nlisten = 127.0.0.1:" + ports[i] +
			"\nbackend = 127.0.0.3:" + (30000 + i) + "\n";
	return text;
}

async function startServicesSlb(dir, web, api) {
	const conf = path.join(dir, "services.conf");
	const { ports } = await startOnFreePorts("slb", N_SERVICES + 1, p => {
		writeFileSync(conf, servicesConf(p, web, api));
		return ["-c", conf, "--admin", "127.0.0.1:" + p[0], "--workers", "1"];
	}, "listening on");
	return { admin: ports[0] };
}

const sectionOf = name => `#backends details.service[data-service="${name}"]`;

/* 50 services: collapsed sections with live counts; a kill shows in its section; the filter. */
async function checkServices(dir) {
	const web = await startPlainBackend("web1");
	const api = [await startPlainBackend("api1"), await startPlainBackend("api2")];
	const apiProc = children[children.length - 2];
	const slb = await startServicesSlb(dir, web, api);
	const page = await browser.newPage();
	await page.setViewport({ width: 1400, height: 1000 });
	await page.goto("http://127.0.0.1:" + slb.admin + "/", { waitUntil: "domcontentloaded" });
	await page.waitForFunction(n => document.querySelectorAll("#backends details.service").length >= n,
		{ timeout: WAIT_MS }, N_SERVICES)
		.catch(() => fail("the page has no section for each of the " + N_SERVICES + " services"));
	await page.waitForFunction(sel => document.querySelector(sel)?.dataset.live === "2", { timeout: WAIT_MS },
		sectionOf("api")).catch(() => fail("api's section never said 2 live"));
	if (await page.$eval(sectionOf("svc07"), d => d.open)) fail("with 50 services a section is not collapsed");
	const apiHead = await page.$eval(sectionOf("api") + " summary", s => s.textContent);
	if (!apiHead.includes("2/2 live")) fail("api's header says \"" + apiHead + "\", not 2/2 live");
	apiProc.kill("SIGKILL");
	await page.waitForFunction((sel, a) => document.querySelector(sel + ` tr[data-addr="${a}"]`)?.dataset.state === "down",
		{ timeout: WAIT_MS, polling: 50 }, sectionOf("api"), api[0])
		.catch(() => fail("the killed api backend did not turn down in api's section"));
	await page.waitForFunction(sel => document.querySelector(sel)?.dataset.live === "1", { timeout: WAIT_MS },
		sectionOf("api")).catch(() => fail("api's header did not drop to 1 live"));
	const webLive = await page.$eval(sectionOf("web"), d => d.dataset.live + "/" + d.dataset.total);
	if (webLive !== "1/1") fail("web's section says " + webLive + " after a kill in api");
	if (await page.$(sectionOf("web") + ` tr[data-addr="${api[0]}"]`)) fail("api's backend is listed in web's section");
	await page.type("#filter", "svc4");
	await page.waitForFunction(() => {
		const shown = [...document.querySelectorAll("#backends details.service")].filter(d => !d.hidden);
		return shown.length === 10 && shown.every(d => d.dataset.service.startsWith("svc4") && d.open);
	}, { timeout: WAIT_MS }).catch(async () => fail("the filter 'svc4' shows " + await page.$$eval(
		"#backends details.service", ds => ds.filter(d => !d.hidden).map(d => d.dataset.service).join(","))));
	await page.screenshot({ path: SCREENSHOT.replace(/\.png$/, "") + "-services.png", fullPage: true });
	console.log("50 services: kill shown in api's section, filter narrows to 10");
	await page.close();
}

async function main() {
	let puppeteer;
	try {
		puppeteer = (await import("puppeteer-core")).default;
	} catch (e) {
		skip("missing-program", "puppeteer-core is not installed (tests/browser/run.sh installs it with npm ci)");
		return 77;
	}
	const slb = await startSlb();
	const backends = [], addrs = [];
	for (const name of ["web1", "web2", "web3"]) {
		addrs.push(await startBackend(slb, name));
		backends.push(children[children.length - 1]);
	}
	if (!await launch(puppeteer)) return 77;
	const page = await browser.newPage();
	const foreign = [];
	page.on("request", r => { if (!r.url().startsWith("http://127.0.0.1:" + slb.admin + "/")) foreign.push(r.url()); });
	await page.setViewport({ width: 1400, height: 1000 });
	await page.goto("http://127.0.0.1:" + slb.admin + "/", { waitUntil: "domcontentloaded" });
	const stop = traffic(slb);
	await checkLive(page, slb, addrs, backends);
	await new Promise(r => setTimeout(r, 3000)); /* let the event list and the chart settle */
	await page.screenshot({ path: SCREENSHOT, fullPage: true });
	stop();
	console.log("screenshot: " + SCREENSHOT);
	await checkMany(page, slb);
	if (foreign.length) fail("the page fetched from elsewhere: " + foreign.join(", "));
	await checkServices(profile);
	return 0;
}

let code = 1;
try {
	code = await main();
	if (code === 0) console.log("PASS");
} catch (e) {
	console.error(e.stack || String(e));
	code = 1;
} finally {
	if (browser) await browser.close().catch(() => {});
	for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGTERM");
	if (profile) rmSync(profile, { recursive: true, force: true });
}
process.exit(process.exitCode === 77 ? 77 : code);
