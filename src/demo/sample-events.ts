import { SeededRandom } from './seeded-random.js';

/** The default project's sources (contracts/orders.ts, payments.ts, page_views.ts). */
export const SAMPLE_SOURCES = Object.freeze(['orders', 'payments', 'page_views'] as const);
export type SampleSource = (typeof SAMPLE_SOURCES)[number];

/** What an event is in the feed's truth: fresh and on time, a re-send, older than the horizon, or broken. */
export type SampleKind = 'valid' | 'duplicate' | 'late' | 'malformed';

/** How a malformed event breaks its contract. */
export type Malformation = 'bad-json' | 'wrong-type' | 'missing-field';

/** The shares of the feed that are re-sent, late and malformed (each a fraction of all events). */
export interface SampleRates {
  readonly duplicateRate: number;
  readonly lateRate: number;
  readonly malformedRate: number;
}

/** SPEC §1's sample feed: about 3% duplicates, 2% late, 0.5% malformed. */
export const DEFAULT_SAMPLE_RATES: SampleRates = Object.freeze({ duplicateRate: 0.03, lateRate: 0.02, malformedRate: 0.005 });

/** Late events are this much older than their send time, at least: beyond a 2 h lateness horizon. */
export const LATE_MIN_MS = 2 * 3_600_000 + 10 * 60_000;
/** ... and at most this much (three days). */
export const LATE_MAX_MS = 72 * 3_600_000;

/** One event of the feed: an NDJSON line for one source, with the truth about it. */
export interface SampleEvent {
  /** Position in the generated stream (0-based). */
  readonly index: number;
  readonly source: SampleSource;
  /** One JSON record (a Debezium envelope for payments), without the newline. */
  readonly line: string;
  readonly kind: SampleKind;
  /** Its event time (for a duplicate, the original's). */
  readonly eventMs: number;
  readonly malformation?: Malformation;
  /** For a duplicate: the index of the event it re-sends. */
  readonly duplicateOf?: number;
}

export interface SampleEventGeneratorOptions extends Partial<SampleRates> {
  readonly seed: number;
  /** A duplicate re-sends an event at least this many events back (so it travels in a later request); default 400. */
  readonly minDuplicateDistance?: number;
  /** ... and at most this many; default 2,000. */
  readonly maxDuplicateDistance?: number;
}

const SOURCE_WEIGHTS: readonly (readonly [SampleSource, number])[] = [
  ['page_views', 0.6],
  ['orders', 0.25],
  ['payments', 0.15],
];
/**
 * Each shipping country of the sample shop and the currency it is charged in: a country
 * always pays in its own currency (the orders contract's currencies; no JPY, whose lack of
 * cents the contract does not take).
 */
export const SAMPLE_COUNTRY_CURRENCY: Readonly<Record<string, string>> = Object.freeze({
  DE: 'EUR', FR: 'EUR', NL: 'EUR', BE: 'EUR', AT: 'EUR', ES: 'EUR', IT: 'EUR', IE: 'EUR',
  SE: 'SEK', DK: 'DKK', NO: 'NOK', CH: 'CHF', PL: 'PLN', GB: 'GBP', US: 'USD',
});
const COUNTRIES = Object.keys(SAMPLE_COUNTRY_CURRENCY);
const CHANNELS = ['web', 'web', 'web', 'ios', 'android', 'pos'] as const;
const METHODS = ['card', 'card', 'card', 'paypal', 'klarna', 'bank_transfer', 'gift_card'] as const;
const DEVICES = ['desktop', 'mobile', 'mobile', 'tablet'] as const;
const PAGES = ['/', '/search', '/cart', '/checkout', '/account', '/c/shoes', '/c/jackets', '/c/bags', '/p/trail-runner-2', '/p/rain-shell', '/p/city-backpack', '/p/wool-socks'];
const REFERRERS = ['https://www.google.com/', 'https://duckduckgo.com/', 'https://www.instagram.com/', 'https://newsletter.example.com/spring'];
const SHOP = 'https://shop.example.com';

interface Order {
  readonly order_id: string;
  readonly customer_id: string;
  status: 'placed' | 'paid' | 'shipped' | 'cancelled';
  readonly amount: number;
  readonly currency: string;
  readonly country: string;
  readonly item_count: number;
  readonly channel?: string;
  readonly coupon_code: string | null;
  lastMs: number;
}

interface Payment {
  payment_id: string;
  order_id: string;
  amount: number;
  currency: string;
  method: string;
  status: 'authorized' | 'captured' | 'failed' | 'refunded';
  paid_at: string;
}

/**
 * A seeded, deterministic stream of the default project's events: page views, order state
 * changes (placed → paid → shipped, or cancelled) and payments as Debezium change events
 * (`c` authorized, `u` captured/failed/refunded), interleaved as a shop emits them. A share
 * of the stream is re-sent (the same line again, later), late (event time 2 h 10 min to 3
 * days before its send time) or malformed (a cut-off JSON line, a wrong type, a missing
 * required field); every event says which. Same seed and times → same events.
 *
 * @example
 * const generator = new SampleEventGenerator({ seed: 7 });
 * const event = generator.next(Date.now()); // { source: 'page_views', kind: 'valid', line: '{"view_id":...}', ... }
 */
export class SampleEventGenerator {
  private readonly random: SeededRandom;
  private readonly rates: SampleRates;
  private readonly minDistance: number;
  private readonly maxDistance: number;
  private index = 0;
  private lsn = 0;
  /** Recent non-malformed originals, oldest first, for duplicates. */
  private readonly recent: SampleEvent[] = [];
  private readonly openOrders: Order[] = [];
  private readonly payableOrders: Order[] = [];
  private readonly authorized: Payment[] = [];
  private readonly captured: Payment[] = [];
  private readonly customers: string[] = [];
  private readonly sessions: { id: string; customer: string | null; device: string }[] = [];

  constructor(options: SampleEventGeneratorOptions) {
    this.random = new SeededRandom(options.seed);
    this.rates = { ...DEFAULT_SAMPLE_RATES, ...definedRates(options) };
    this.minDistance = options.minDuplicateDistance ?? 400;
    this.maxDistance = options.maxDuplicateDistance ?? 2_000;
  }

  /** The next event, as sent at `nowMs`. */
  next(nowMs: number): SampleEvent {
    const index = this.index++;
    const r = this.random.next();
    const { malformedRate, duplicateRate, lateRate } = this.rates;
    let event: SampleEvent | undefined;
    if (r < malformedRate) event = this.malformed(index, nowMs);
    else if (r < malformedRate + duplicateRate) event = this.duplicate(index);
    else if (r < malformedRate + duplicateRate + lateRate) event = this.fresh(index, nowMs - this.random.int(LATE_MIN_MS, LATE_MAX_MS), 'late');
    // too early in the stream for a duplicate: a fresh event instead
    event ??= this.fresh(index, nowMs - this.random.int(0, 3_000), 'valid');
    if (event.kind === 'valid' || event.kind === 'late') {
      this.recent.push(event);
      while ((this.recent[0]?.index ?? index) < index - this.maxDistance) this.recent.shift();
    }
    return event;
  }

  private duplicate(index: number): SampleEvent | undefined {
    let candidates = 0;
    while (candidates < this.recent.length && (this.recent[candidates] as SampleEvent).index <= index - this.minDistance) candidates++;
    if (candidates === 0) return undefined;
    const original = this.recent[this.random.int(0, candidates - 1)] as SampleEvent;
    return { index, source: original.source, line: original.line, kind: 'duplicate', eventMs: original.eventMs, duplicateOf: original.index };
  }

  private fresh(index: number, eventMs: number, kind: 'valid' | 'late'): SampleEvent {
    const source = this.pickSource();
    // late events are new entities: a state change of a live order cannot be hours old
    const record =
      source === 'orders' ? this.orderEvent(eventMs, kind === 'valid') : source === 'payments' ? this.paymentEvent(eventMs, kind === 'valid') : this.pageView(eventMs);
    return { index, source, line: JSON.stringify(record), kind, eventMs };
  }

  private malformed(index: number, nowMs: number): SampleEvent {
    const source = this.pickSource();
    const eventMs = nowMs - this.random.int(0, 3_000);
    const record = source === 'orders' ? this.orderEvent(eventMs, false) : source === 'payments' ? this.paymentEvent(eventMs, false) : this.pageView(eventMs);
    const malformation = this.random.pick(['bad-json', 'wrong-type', 'missing-field'] as const);
    let line: string;
    if (malformation === 'bad-json') {
      const text = JSON.stringify(record);
      // any proper prefix of a JSON object is invalid JSON: the producer's write was cut off
      line = text.slice(0, Math.max(1, Math.floor(text.length * (0.3 + this.random.next() * 0.6))));
    } else {
      const target = (source === 'payments' ? (record as { after: Record<string, unknown> }).after : record) as Record<string, unknown>;
      if (malformation === 'wrong-type') {
        if (source === 'orders') target['amount'] = String(target['amount']);
        else if (source === 'payments') target['amount'] = 'twelve';
        else target['session_id'] = this.random.int(10_000_000, 99_999_999);
      } else if (source === 'orders') delete target['customer_id'];
      else if (source === 'payments') delete target['paid_at'];
      else delete target['session_id'];
      line = JSON.stringify(record);
    }
    return { index, source, line, kind: 'malformed', eventMs, malformation };
  }

  private pickSource(): SampleSource {
    let r = this.random.next();
    for (const [source, weight] of SOURCE_WEIGHTS) {
      if (r < weight) return source;
      r -= weight;
    }
    return 'page_views';
  }

  private customer(): string {
    if (this.customers.length < 50 || this.random.chance(0.3)) {
      const id = `cus_${this.random.id(8)}`;
      this.customers.push(id);
      if (this.customers.length > 2_000) this.customers.shift();
      return id;
    }
    return this.random.pick(this.customers);
  }

  /** A new order (`placed`), or the next state of an open one when `live`. */
  private orderEvent(eventMs: number, live: boolean): Record<string, unknown> {
    if (live && this.openOrders.length > 0 && this.random.chance(0.55)) {
      const at = this.random.int(0, this.openOrders.length - 1);
      const order = this.openOrders[at] as Order;
      order.status = order.status === 'placed' ? (this.random.chance(0.85) ? 'paid' : 'cancelled') : 'shipped';
      if (order.status !== 'paid') this.openOrders.splice(at, 1);
      order.lastMs = Math.max(eventMs, order.lastMs + 1);
      return orderRecord(order);
    }
    const amount = Math.round((5 + this.random.next() * 295) * 100) / 100;
    const country = this.random.pick(COUNTRIES);
    const order: Order = {
      order_id: `ord_${this.random.id(10)}`,
      customer_id: this.customer(),
      status: 'placed',
      amount,
      currency: currencyOf(country),
      country,
      item_count: this.random.int(1, 6),
      ...(this.random.chance(0.9) ? { channel: this.random.pick(CHANNELS) } : {}),
      coupon_code: this.random.chance(0.12) ? `SPRING${this.random.int(10, 30)}` : null,
      lastMs: eventMs,
    };
    if (live) {
      this.openOrders.push(order);
      if (this.openOrders.length > 500) this.openOrders.shift();
      this.payableOrders.push(order);
      if (this.payableOrders.length > 200) this.payableOrders.shift();
    }
    return orderRecord(order);
  }

  /** A Debezium change event of the payments table: an insert (authorized), or an update of a live payment. */
  private paymentEvent(eventMs: number, live: boolean): Record<string, unknown> {
    const paidAt = new Date(eventMs).toISOString();
    if (live && this.authorized.length > 0 && this.random.chance(0.5)) {
      const payment = this.authorized.splice(this.random.int(0, this.authorized.length - 1), 1)[0] as Payment;
      const before = { ...payment };
      payment.status = this.random.chance(0.95) ? 'captured' : 'failed';
      payment.paid_at = paidAt;
      if (payment.status === 'captured') {
        this.captured.push(payment);
        if (this.captured.length > 200) this.captured.shift();
      }
      return this.envelope('u', before, payment, eventMs);
    }
    if (live && this.captured.length > 0 && this.random.chance(0.04)) {
      const payment = this.captured.splice(this.random.int(0, this.captured.length - 1), 1)[0] as Payment;
      const before = { ...payment };
      payment.status = 'refunded';
      payment.paid_at = paidAt;
      return this.envelope('u', before, payment, eventMs);
    }
    const order = this.payableOrders.length > 0 && live ? this.random.pick(this.payableOrders) : undefined;
    const payment: Payment = {
      payment_id: `pay_${this.random.id(12)}`,
      order_id: order?.order_id ?? `ord_${this.random.id(10)}`,
      amount: order?.amount ?? Math.round((5 + this.random.next() * 295) * 100) / 100,
      currency: order?.currency ?? currencyOf(this.random.pick(COUNTRIES)),
      method: this.random.pick(METHODS),
      status: 'authorized',
      paid_at: paidAt,
    };
    if (live) {
      this.authorized.push(payment);
      if (this.authorized.length > 500) this.authorized.shift();
    }
    return this.envelope('c', null, payment, eventMs);
  }

  private envelope(op: 'c' | 'u', before: Payment | null, after: Payment, eventMs: number): Record<string, unknown> {
    this.lsn += this.random.int(40, 400);
    const tsMs = eventMs + this.random.int(5, 250);
    return {
      before: before === null ? null : { ...before },
      after: { ...after },
      source: { version: '2.7.3.Final', connector: 'postgresql', name: 'shop', ts_ms: eventMs, db: 'payments', schema: 'public', table: 'payments', lsn: 24_000_000 + this.lsn },
      op,
      ts_ms: tsMs,
    };
  }

  private pageView(eventMs: number): Record<string, unknown> {
    if (this.sessions.length < 20 || this.random.chance(0.15)) {
      this.sessions.push({ id: `s_${this.random.id(16)}`, customer: this.random.chance(0.4) ? this.customer() : null, device: this.random.pick(DEVICES) });
      if (this.sessions.length > 300) this.sessions.shift();
    }
    const session = this.random.pick(this.sessions);
    const page = this.random.pick(PAGES);
    return {
      view_id: this.random.uuid(),
      session_id: session.id,
      customer_id: session.customer,
      url: `${SHOP}${page}${page === '/search' ? `?q=${this.random.pick(['boots', 'rain', 'wool', 'bag'])}` : ''}`,
      referrer: this.random.chance(0.3) ? this.random.pick(REFERRERS) : this.random.chance(0.5) ? `${SHOP}${this.random.pick(PAGES)}` : null,
      device: session.device,
      viewed_at: new Date(eventMs).toISOString(),
    };
  }
}

function currencyOf(country: string): string {
  const currency = SAMPLE_COUNTRY_CURRENCY[country];
  if (currency === undefined) throw new Error(`no currency for sample country ${country}`);
  return currency;
}

function orderRecord(order: Order): Record<string, unknown> {
  const { lastMs, ...fields } = order;
  return { ...fields, order_ts: new Date(lastMs).toISOString() };
}

function definedRates(options: Partial<SampleRates>): Partial<SampleRates> {
  const out: { -readonly [K in keyof SampleRates]?: number } = {};
  for (const key of ['duplicateRate', 'lateRate', 'malformedRate'] as const) {
    const value = options[key];
    if (value !== undefined) {
      if (!(value >= 0 && value <= 1)) throw new RangeError(`${key} must be a fraction from 0 to 1, got ${value}`);
      out[key] = value;
    }
  }
  if ((out.duplicateRate ?? 0) + (out.lateRate ?? 0) + (out.malformedRate ?? 0) > 1) throw new RangeError('duplicateRate + lateRate + malformedRate must not exceed 1');
  return out;
}

/** What `generateSampleEvents` made, and the truth about it per source. */
export interface SampleEvents {
  /** In stream order. */
  readonly events: readonly SampleEvent[];
  readonly bySource: Readonly<Record<SampleSource, readonly SampleEvent[]>>;
  readonly truth: Readonly<Record<SampleSource, SampleTruth>>;
}

/** Counts of one source's events by kind. */
export interface SampleTruth {
  readonly events: number;
  readonly valid: number;
  readonly duplicates: number;
  readonly late: number;
  readonly malformed: number;
}

export interface GenerateSampleEventsOptions extends SampleEventGeneratorOptions {
  readonly count: number;
  /** The send time of the first event. */
  readonly startMs: number;
  /** Send-time step between events; default 10 ms (100 events/s). */
  readonly intervalMs?: number;
}

/**
 * `count` events of the sample feed, sent `intervalMs` apart from `startMs`, with each
 * source's share and the truth (which are duplicates, late, malformed), for tests and
 * benchmarks.
 *
 * @example
 * const { bySource, truth } = generateSampleEvents({ seed: 1, count: 10_000, startMs: Date.parse('2026-05-01T12:00:00Z') });
 * truth.orders.malformed; // how many orders lines break the contract
 */
export function generateSampleEvents(options: GenerateSampleEventsOptions): SampleEvents {
  const generator = new SampleEventGenerator(options);
  const step = options.intervalMs ?? 10;
  const events: SampleEvent[] = [];
  for (let i = 0; i < options.count; i++) events.push(generator.next(options.startMs + i * step));
  const bySource = { orders: [], payments: [], page_views: [] } as Record<SampleSource, SampleEvent[]>;
  for (const event of events) bySource[event.source].push(event);
  const truth = {} as Record<SampleSource, SampleTruth>;
  for (const source of SAMPLE_SOURCES) {
    const list = bySource[source];
    const count = (kind: SampleKind): number => list.filter((e) => e.kind === kind).length;
    truth[source] = { events: list.length, valid: count('valid'), duplicates: count('duplicate'), late: count('late'), malformed: count('malformed') };
  }
  return { events, bySource, truth };
}

/** Events as an NDJSON body (one line each, newline-terminated). */
export function toNdjson(events: readonly SampleEvent[]): string {
  return events.map((e) => `${e.line}\n`).join('');
}
