/**
 * The default project's sample feed (SPEC §1, §2): a seeded generator of orders, payments
 * (Debezium change events) and page views with duplicates, late and malformed events and
 * the truth about each (`generateSampleEvents`, `SampleEventGenerator`), and the loop that
 * posts them to a collector (`SampleFeed`, behind `serve --sample-feed` and `npm start`).
 */
export * from './seeded-random.js';
export * from './sample-events.js';
export * from './sample-feed.js';
