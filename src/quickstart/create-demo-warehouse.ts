/**
 * Creates the demo DuckDB warehouse file (an operator action, done with DuckDB directly and
 * never through the governed pipeline): schemas crm, analytics and scratch, sample data
 * with personal data, and views that show checking-through (one over a masked table, one in
 * an allowed schema over a denied table).
 */
import { DuckDBInstance } from '@duckdb/node-api';
import { generateDemoData } from './demo-data.js';

export async function createDemoWarehouse(path: string): Promise<{ customers: number; events: number }> {
  const data = generateDemoData();
  const instance = await DuckDBInstance.create(path);
  const conn = await instance.connect();
  try {
    await conn.run(`
      CREATE SCHEMA crm; CREATE SCHEMA analytics; CREATE SCHEMA scratch;
      CREATE TABLE crm.customers (id INTEGER PRIMARY KEY, name VARCHAR, email VARCHAR, phone VARCHAR, ssn VARCHAR, city VARCHAR, notes VARCHAR, created_at TIMESTAMP);
      CREATE TABLE crm.payment_cards (id INTEGER PRIMARY KEY, customer_id INTEGER, card_number VARCHAR, expiry VARCHAR, brand VARCHAR);
      CREATE TABLE analytics.events (id INTEGER PRIMARY KEY, customer_id INTEGER, event_type VARCHAR, amount DECIMAL(10,2), occurred_at TIMESTAMP);
    `);
    const customers = await conn.createAppender('customers', 'crm');
    for (const c of data.customers) {
      customers.appendInteger(c.id);
      for (const v of [c.name, c.email, c.phone, c.ssn, c.city, c.notes]) customers.appendVarchar(v);
      customers.appendVarchar(c.created_at);
      customers.endRow();
    }
    customers.closeSync();
    const cards = await conn.createAppender('payment_cards', 'crm');
    for (const k of data.cards) {
      cards.appendInteger(k.id);
      cards.appendInteger(k.customer_id);
      for (const v of [k.card_number, k.expiry, k.brand]) cards.appendVarchar(v);
      cards.endRow();
    }
    cards.closeSync();
    const events = await conn.createAppender('events', 'analytics');
    for (const e of data.events) {
      events.appendInteger(e.id);
      events.appendInteger(e.customer_id);
      events.appendVarchar(e.event_type);
      events.appendDouble(e.amount);
      events.appendVarchar(e.occurred_at);
      events.endRow();
    }
    events.closeSync();
    await conn.run(`
      CREATE VIEW analytics.daily_events AS
        SELECT CAST(occurred_at AS DATE) AS day, event_type, count(*) AS events, sum(amount) AS amount
        FROM analytics.events GROUP BY ALL;
      CREATE VIEW crm.customer_directory AS SELECT id, name, email, city FROM crm.customers;
      CREATE VIEW analytics.card_spend AS
        SELECT c.brand, c.card_number, sum(e.amount) AS spent
        FROM crm.payment_cards c JOIN analytics.events e USING (customer_id) GROUP BY ALL;
      CHECKPOINT;
    `);
    return { customers: data.customers.length, events: data.events.length };
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
}
