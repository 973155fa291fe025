/**
 * Realistic, deterministic sample data for the demo warehouse: customers with names, emails,
 * phones, SSNs and free-text notes that leak personal data; payment cards; events. Generated
 * from a fixed seed so the tour and tests see the same rows on every machine.
 * SSNs fall in valid SSA ranges (so the detectors and masks have something real-looking to
 * catch) but are generated, not anyone's.
 */
const FIRST = ['Alice', 'Bob', 'Carmen', 'Deepak', 'Elena', 'Farid', 'Grace', 'Hiro', 'Ines', 'Jonas', 'Kemi', 'Liam', 'Maya', 'Noah', 'Olga', 'Priya', 'Quinn', 'Rosa', 'Sven', 'Tara'];
const LAST = ['Nguyen', 'Smith', 'Garcia', 'Patel', 'Rossi', 'Haddad', 'Kim', 'Tanaka', 'Silva', 'Berg', 'Okafor', 'Murphy', 'Cohen', 'Fischer', 'Ivanova', 'Shah', 'Lopez', 'Moreau', 'Larsen', 'Walsh'];
const CITIES = ['Lisbon', 'Austin', 'Osaka', 'Berlin', 'Lagos', 'Toronto', 'Pune', 'Denver', 'Lyon', 'Oslo'];
const EVENT_TYPES = ['signup', 'login', 'view', 'purchase', 'refund', 'support_ticket'];

export interface DemoCustomer { id: number; name: string; email: string; phone: string; ssn: string; city: string; notes: string; created_at: string }
export interface DemoCard { id: number; customer_id: number; card_number: string; expiry: string; brand: string }
export interface DemoEvent { id: number; customer_id: number; event_type: string; amount: number; occurred_at: string }

/** mulberry32: tiny deterministic PRNG, good enough for sample data (and the fuzzer's cases). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function luhnComplete(prefix: string, length: number, rand: () => number): string {
  let digits = prefix;
  while (digits.length < length - 1) digits += Math.floor(rand() * 10);
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 0) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return digits + ((10 - (sum % 10)) % 10);
}

export function generateDemoData(customers = 200, events = 5000): { customers: DemoCustomer[]; cards: DemoCard[]; events: DemoEvent[] } {
  const rand = prng(20261128);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)]!;
  const pad = (n: number, w: number) => String(n).padStart(w, '0');
  const out: DemoCustomer[] = [];
  for (let id = 1; id <= customers; id++) {
    const first = pick(FIRST);
    const last = pick(LAST);
    const email = `${first}.${last}${id}@example.com`.toLowerCase();
    const phone = `+1-${200 + Math.floor(rand() * 700)}-555-${pad(Math.floor(rand() * 10000), 4)}`;
    const ssn = `${pad(1 + Math.floor(rand() * 600), 3)}-${pad(1 + Math.floor(rand() * 98), 2)}-${pad(1 + Math.floor(rand() * 9998), 4)}`.replace(/^666/, '667');
    const notes = [
      `Prefers email; alt contact ${first.toLowerCase()}.alt${id}@mail.example.org`,
      `Called from ${phone} about a refund`,
      `VIP since ${2015 + (id % 10)}`,
      `Asked to update card on file`,
      `No notes`,
    ][id % 5]!;
    out.push({ id, name: `${first} ${last}`, email, phone, ssn, city: pick(CITIES), notes, created_at: `202${id % 6}-0${1 + (id % 9)}-1${id % 10}T09:00:00` });
  }
  const cards: DemoCard[] = out.map((c, i) => {
    const visa = i % 2 === 0;
    return { id: i + 1, customer_id: c.id, card_number: luhnComplete(visa ? '4' : '51', 16, rand), expiry: `${pad(1 + (i % 12), 2)}/${28 + (i % 5)}`, brand: visa ? 'visa' : 'mastercard' };
  });
  const ev: DemoEvent[] = [];
  for (let id = 1; id <= events; id++) {
    const type = pick(EVENT_TYPES);
    ev.push({
      id,
      customer_id: 1 + Math.floor(rand() * customers),
      event_type: type,
      amount: type === 'purchase' ? Math.round(rand() * 50000) / 100 : type === 'refund' ? -Math.round(rand() * 10000) / 100 : 0,
      occurred_at: `2026-${pad(1 + Math.floor(rand() * 10), 2)}-${pad(1 + Math.floor(rand() * 28), 2)}T${pad(Math.floor(rand() * 24), 2)}:${pad(Math.floor(rand() * 60), 2)}:00`,
    });
  }
  return { customers: out, cards, events: ev };
}
