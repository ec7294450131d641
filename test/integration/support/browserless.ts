// The resource owner's side of an authorization-code flow, driven over plain HTTP: a cookie jar,
// the interaction screens' HTML forms (CSRF token parsed from the page) and manual redirects.
// No vitest imports here, so Playwright specs can share it.

/** A minimal cookie jar for one origin (the sandbox): name → value, honouring deletion. */
export class CookieJar {
  private readonly cookies = new Map<string, string>();

  /** Stores the `Set-Cookie` headers of a response. */
  store(res: Response): void {
    for (const line of res.headers.getSetCookie()) {
      const [pair = '', ...attrs] = line.split(';');
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attrs.some((a) => /^\s*max-age\s*=\s*0\s*$/i.test(a));
      if (expired || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  /** The `Cookie` header value. */
  header(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  has(name: string): boolean {
    return this.cookies.has(name);
  }
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'", '#x27': "'", apos: "'" };

/** Undoes the HTML escaping of attribute values and text. */
export function unescapeHtml(s: string): string {
  return s.replace(/&(amp|lt|gt|quot|#39|#x27|apos);/g, (_, e: string) => ENTITIES[e] ?? '');
}

/** Hidden inputs of the first form whose action ends with `actionSuffix`. */
export function hiddenInputs(html: string, actionSuffix: string): URLSearchParams {
  const forms = [...html.matchAll(/<form\b[^>]*\baction="([^"]*)"[^>]*>([\s\S]*?)<\/form>/g)];
  const form = forms.find((m) => unescapeHtml(m[1] ?? '').endsWith(actionSuffix));
  if (!form) throw new Error(`no form posting to …${actionSuffix} on the page:\n${html.slice(0, 2000)}`);
  const params = new URLSearchParams();
  for (const input of (form[2] ?? '').matchAll(/<input\b[^>]*>/g)) {
    const tag = input[0];
    if (!/\btype="hidden"/.test(tag)) continue;
    const name = /\bname="([^"]*)"/.exec(tag)?.[1];
    const value = /\bvalue="([^"]*)"/.exec(tag)?.[1] ?? '';
    if (name) params.append(unescapeHtml(name), unescapeHtml(value));
  }
  return params;
}

/** What the user does on the consent screen. */
export interface ConsentChoice {
  /** Scopes (as shown on the screen) to untick. */
  readonly untick?: readonly string[];
  /** For a whole-type Observation/Condition scope: grant only these `system|code` categories. */
  readonly categories?: Readonly<Record<string, readonly string[]>>;
  /** Press Deny instead of Allow. */
  readonly deny?: boolean;
}

export interface InteractionInput {
  /** `Practitioner/{id}` or `Patient/{id}`: the one-click persona to sign in as. */
  readonly persona: string;
  /** For practitioners without a patient in context: the patient picked in the patient picker. */
  readonly patient?: string;
  /** Encounter picked in the encounter picker ('none' to continue without one). */
  readonly encounter?: string;
  readonly consent?: ConsentChoice;
}

/** What a driven interaction ended with. */
export interface InteractionOutcome {
  /** The app's redirect URL (code or error, state, iss). */
  readonly callback: URL;
  /** Scopes the consent screen offered (data-scope values), empty when consent was skipped. */
  readonly offered: readonly string[];
  /** Screens visited, in order: 'login' | 'patient' | 'encounter' | 'consent'. */
  readonly screens: readonly string[];
}

/** A browser-like session against the sandbox: cookies plus the Origin of its own pages. */
export class BrowserSession {
  readonly jar = new CookieJar();

  constructor(readonly base: string) {}

  /** One request, redirects not followed, cookies sent and stored. */
  async request(url: string | URL, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    const cookie = this.jar.header();
    if (cookie) headers.set('cookie', cookie);
    const res = await fetch(url, { ...init, headers, redirect: 'manual' });
    this.jar.store(res);
    return res;
  }

  /** Posts a form as the sandbox's own page would (same Origin). */
  postForm(path: string, form: URLSearchParams): Promise<Response> {
    return this.request(new URL(path, this.base), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: new URL(this.base).origin },
      body: form.toString(),
    });
  }

  /**
   * Sends the browser to an authorization URL and walks the interaction screens (sign-in, patient
   * and encounter pickers, consent) until the sandbox redirects to a URL outside itself: the app's
   * redirect_uri. Throws when a page is an error page.
   */
  async authorize(authorizationUrl: string | URL, input: InteractionInput): Promise<InteractionOutcome> {
    const screens: string[] = [];
    let offered: string[] = [];
    const origin = new URL(this.base).origin;
    // A sandbox under `/s/{id}` has its screens under that prefix.
    const prefix = new URL(this.base).pathname.replace(/\/+$/, '');
    let next = new URL(authorizationUrl);
    for (let hop = 0; hop < 20; hop++) {
      if (next.origin !== origin || !(next.pathname.startsWith(`${prefix}/interaction/`) || next.pathname.startsWith(`${prefix}/oauth/`))) {
        return { callback: next, offered, screens };
      }
      const res = await this.request(next);
      if (res.status >= 300 && res.status < 400) {
        next = new URL(res.headers.get('location') ?? '', next);
        continue;
      }
      const html = await res.text();
      if (res.status !== 200) throw new Error(`${next.pathname} answered ${res.status}: ${stripTags(html).slice(0, 600)}`);
      const id = /^\/interaction\/([^/?]+)/.exec(next.pathname.slice(prefix.length))?.[1];
      if (!id) throw new Error(`unexpected page ${next.href}`);
      const page = `${prefix}/interaction/${id}`;

      if (html.includes(`action="${page}/login"`) && html.includes('<h1>Sign in</h1>')) {
        screens.push('login');
        if (screens.filter((s) => s === 'login').length > 1) throw new Error(`sign-in did not stick: ${stripTags(html).slice(0, 400)}`);
        const form = hiddenInputs(html, `${page}/login`);
        form.set('persona', input.persona);
        next = await this.expectSeeOther(await this.postForm(`${page}/login`, form), next);
      } else if (html.includes('<h1>Choose a patient</h1>')) {
        screens.push('patient');
        if (!input.patient) throw new Error('the patient picker is shown but no patient was given');
        next = new URL(`${page}?patient=${encodeURIComponent(input.patient)}`, this.base);
      } else if (html.includes('<h1>Choose an encounter</h1>')) {
        screens.push('encounter');
        const patient = /[?&]patient=([^&"]+)/.exec(html)?.[1] ?? input.patient ?? '';
        next = new URL(`${page}?patient=${patient}&encounter=${encodeURIComponent(input.encounter ?? 'none')}`, this.base);
      } else if (html.includes(`action="${page}/consent"`)) {
        screens.push('consent');
        const { form, scopes } = consentForm(html, page, input.consent ?? {});
        offered = scopes;
        next = await this.expectSeeOther(await this.postForm(`${page}/consent`, form), next);
      } else {
        throw new Error(`unrecognised interaction screen: ${stripTags(html).slice(0, 600)}`);
      }
    }
    throw new Error('too many redirects');
  }

  private async expectSeeOther(res: Response, from: URL): Promise<URL> {
    if (res.status !== 303) throw new Error(`expected 303 after POST, got ${res.status}: ${stripTags(await res.text()).slice(0, 400)}`);
    return new URL(res.headers.get('location') ?? '', from);
  }
}

/** The consent form as the user fills it in: hidden fields, ticked boxes, category choices, the button. */
function consentForm(html: string, page: string, choice: ConsentChoice): { form: URLSearchParams; scopes: string[] } {
  const form = hiddenInputs(html, `${page}/consent`);
  const scopes: string[] = [];
  for (const m of html.matchAll(/<div class="scope" data-scope="([^"]*)"><input\b([^>]*)>/g)) {
    const scope = unescapeHtml(m[1] ?? '');
    const box = m[2] ?? '';
    scopes.push(scope);
    // Scopes that cannot be unticked (identity, launch, access) are shown but not submitted.
    if (/\sdisabled\b/.test(box)) continue;
    const key = /\bname="keep\.(\d+)"/.exec(box)?.[1] ?? '';
    if (!choice.untick?.includes(scope)) form.set(`keep.${key}`, 'on');
    const categories = choice.categories?.[scope];
    if (categories) {
      form.set(`mode.${key}`, 'categories');
      for (const c of categories) form.append(`cat.${key}`, c);
    } else if (html.includes(`name="mode.${key}"`)) {
      form.set(`mode.${key}`, 'all');
    }
  }
  form.set('decision', choice.deny ? 'deny' : 'allow');
  return { form, scopes };
}

function stripTags(html: string): string {
  return unescapeHtml(
    html
      .replace(/<style[\s\S]*?<\/style>/g, '')
      .replace(/<[^>]+>/g, ' ')
      .replace(/\s+/g, ' '),
  );
}
