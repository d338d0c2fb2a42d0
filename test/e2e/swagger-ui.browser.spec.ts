/// <reference lib="dom" />
import { existsSync } from 'node:fs';
import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Browser, chromium } from 'playwright-core';
import { bootApp } from '../support/app';
import { newSession } from '../support/auth';
import { testConfig, TestConfig } from '../support/config';
import { createTestDatabase, TestDatabase } from '../support/postgres';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) {
  if (process.env.CI)
    throw new Error(`CI must run the browser test: no Chromium at ${CHROMIUM} (apt-get install chromium)`);
  console.warn(
    `SKIPPED swagger-ui browser test: no Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`,
  );
}

(haveChromium ? describe : describe.skip)('Swagger UI in a real browser under the strict CSP', () => {
  let db: TestDatabase;
  let env: TestConfig;
  let app: NestFastifyApplication;
  let browser: Browser;
  let baseUrl: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    env = testConfig({ DATABASE_URL: db.url });
    app = await bootApp(env.config);
    await app.listen(0, '127.0.0.1');
    baseUrl = await app.getUrl();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  });

  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await db?.drop();
    env?.cleanup();
  });

  it('renders the operations with zero CSP violations and nothing loaded from elsewhere', async () => {
    const page = await browser.newPage();
    // Collected by the page itself; init scripts come from the DevTools protocol, so the CSP does not block them.
    await page.addInitScript(() => {
      const seen: string[] = [];
      (window as unknown as { __csp: string[] }).__csp = seen;
      document.addEventListener('securitypolicyviolation', (e) =>
        seen.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`),
      );
    });
    const consoleErrors: string[] = [];
    page.on('console', (msg) => {
      if (msg.type() === 'error') consoleErrors.push(msg.text());
    });
    const foreignRequests: string[] = [];
    page.on('request', (request) => {
      const url = request.url();
      if (!url.startsWith(baseUrl) && !url.startsWith('data:')) foreignRequests.push(url);
    });

    const response = await page.goto(`${baseUrl}/swagger-ui`, { waitUntil: 'networkidle' });
    expect(response?.status()).toBe(200);
    await page.waitForSelector('.opblock', { timeout: 15_000 });

    const paths = await page.$$eval('.opblock-summary-path', (nodes) =>
      nodes.map((n) => n.textContent?.trim()),
    );
    expect(paths).toEqual(expect.arrayContaining(['/api/v1/health', '/api/v1/health/ready']));
    expect(await page.title()).toContain('VCP');

    // Expanding an operation and trying it out works from the page.
    await page.click('.opblock-summary-path[data-path="/api/v1/health/ready"]');
    await page.click('button.try-out__btn');
    await page.click('button.execute');
    const cell = '.live-responses-table tbody .response-col_status';
    await page.waitForSelector(cell, { timeout: 10_000 });
    const status = await page.$eval(cell, (n) => n.textContent?.trim());
    expect(status).toBe('200');
    // Its schemas resolve (a dangling $ref shows a resolver error banner), and its extensions are shown.
    expect(await page.$('.errors-wrapper')).toBeNull();
    const expanded = await page.$eval('.opblock.is-open', (n) => n.textContent ?? '');
    expect(expanded).toContain('x-rate-limit-tier');

    const violations = await page.evaluate(() => (window as unknown as { __csp: string[] }).__csp);
    expect(violations).toEqual([]);
    expect(consoleErrors.filter((text) => /Content Security Policy/i.test(text))).toEqual([]);
    expect(foreignRequests).toEqual([]);
    await page.screenshot({ path: `${env.dataDir}/swagger-ui.png`, fullPage: false });
    await page.close();
  });

  it('authorizes with an API key in its dialog and runs an authenticated GET from the page', async () => {
    const alice = await newSession(app, 'explorer');
    const page = await browser.newPage();
    await page.addInitScript(() => {
      const seen: string[] = [];
      (window as unknown as { __csp: string[] }).__csp = seen;
      document.addEventListener('securitypolicyviolation', (e) => seen.push(e.violatedDirective));
    });
    await page.goto(`${baseUrl}/swagger-ui`, { waitUntil: 'networkidle' });
    await page.click('.auth-wrapper .btn.authorize');
    // The dialog offers both schemes the routes take, each with what to paste.
    const dialog = await page.waitForSelector('.modal-ux', { timeout: 10_000 });
    const offered = await dialog.$$eval('.auth-container h4', (nodes) =>
      nodes.map((n) => n.textContent?.trim()),
    );
    expect(offered).toEqual([expect.stringContaining('bearer'), expect.stringContaining('api-key')]);
    expect(await dialog.textContent()).toContain('node key');
    const apiKeyForm = page.locator('.auth-container', { hasText: 'api-key' });
    await apiKeyForm.locator('input').fill(alice.apiKey);
    await apiKeyForm.locator('button.authorize').click();
    await apiKeyForm.locator('button[aria-label="Remove authorization"]').waitFor({ timeout: 5_000 });
    await page.click('.modal-ux button.close-modal');

    const me = page.locator('#operations-auth-AuthController_me');
    await me.locator('.opblock-summary-control').click();
    await me.locator('button.try-out__btn').click();
    await me.locator('button.execute').click();
    const status = me.locator('.live-responses-table tbody .response-col_status');
    await status.waitFor({ timeout: 10_000 });
    expect((await status.textContent())?.trim()).toBe('200');
    // The body rendered is alice's, so the key went in its header (a request without it is a 401).
    expect(await me.locator('.live-responses-table tbody .response-col_description').textContent()).toContain(
      alice.username,
    );
    expect(await me.locator('.curl-command').textContent()).toContain('X-API-Key');
    expect(await page.evaluate(() => (window as unknown as { __csp: string[] }).__csp)).toEqual([]);
    await page.close();
  });
});
