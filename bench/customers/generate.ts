/**
 * `npm run bench:customers -- generate --records N --out DIR [--seed S]`
 *
 * Makes a noisy customer data set of N person records (eCommerce contacts + loyalty members) in
 * the four-file layout of the Contoso sources, with their purchases and a truth.csv
 * (`SourceKey,PersonId`). The noise is the kind customers-sample shows: names in "Last First"
 * order or with a typo, accents, upper case, stray spaces, a work e-mail in one source and a
 * personal one in the other, missing birth dates and phones, phones in many formats, duplicate
 * registrations in the eCommerce source, namesakes, anonymous in-store sales. Deterministic for a
 * seed; written as streams, so any size fits in memory.
 *
 * The names and values are invented here; only the column layout follows the Contoso sample
 * sources (Microsoft Customer Insights documentation, CC BY 4.0), and an ATTRIBUTION.txt
 * beside the generated files says so.
 */
import fs from 'node:fs';
import path from 'node:path';
import { once } from 'node:events';

const FIRST = ['James', 'Mary', 'Robert', 'Patricia', 'John', 'Jennifer', 'Michael', 'Linda', 'David', 'Elizabeth', 'William', 'Barbara', 'Richard', 'Susan', 'Joseph', 'Jessica', 'Thomas', 'Sarah', 'Christopher', 'Karen', 'Charles', 'Lisa', 'Daniel', 'Nancy', 'Matthew', 'Betty', 'Anthony', 'Sandra', 'Mark', 'Margaret', 'Donald', 'Ashley', 'Steven', 'Kimberly', 'Andrew', 'Emily', 'Paul', 'Donna', 'Joshua', 'Michelle', 'Kenneth', 'Carol', 'Kevin', 'Amanda', 'Brian', 'Melissa', 'George', 'Deborah', 'Timothy', 'Stephanie', 'Ronald', 'Dorothy', 'Jason', 'Rebecca', 'Edward', 'Sharon', 'Jeffrey', 'Laura', 'Ryan', 'Cynthia', 'Jacob', 'Amy', 'Gary', 'Kathleen', 'Nicholas', 'Angela', 'Eric', 'Shirley', 'Jonathan', 'Brenda', 'Stephen', 'Emma', 'Larry', 'Anna', 'Justin', 'Pamela', 'Scott', 'Nicole', 'Brandon', 'Samantha', 'Benjamin', 'Katherine', 'Samuel', 'Christine', 'Gregory', 'Helen', 'Alexander', 'Debra', 'Patrick', 'Rachel', 'Frank', 'Carolyn', 'Raymond', 'Janet', 'Jack', 'Maria', 'Dennis', 'Catherine', 'Jerry', 'Heather', 'Tyler', 'Diane', 'Aaron', 'Olivia', 'Jose', 'Julie', 'Adam', 'Joyce', 'Nathan', 'Victoria', 'Henry', 'Ruth', 'Zachary', 'Virginia', 'Douglas', 'Lauren', 'Peter', 'Kelly', 'Kyle', 'Christina', 'Noah', 'Joan', 'Ethan', 'Evelyn', 'Jeremy', 'Judith', 'Walter', 'Andrea', 'Christian', 'Hannah', 'Keith', 'Megan', 'Roger', 'Cheryl', 'Terry', 'Jacqueline', 'Austin', 'Martha', 'Sean', 'Madison', 'Gerald', 'Teresa', 'Carl', 'Gloria', 'Harold', 'Sara', 'Dylan', 'Janice', 'Arthur', 'Ann', 'Lawrence', 'Kathryn', 'Jordan', 'Abigail', 'Jesse', 'Sophia', 'Bryan', 'Frances', 'Billy', 'Jean', 'Bruce', 'Alice', 'Gabriel', 'Judy', 'Joe', 'Isabella', 'Logan', 'Julia', 'Alan', 'Grace', 'Juan', 'Amber', 'Albert', 'Denise', 'Willie', 'Danielle', 'Elijah', 'Marilyn', 'Wayne', 'Beverly', 'Randy', 'Charlotte', 'Vincent', 'Natalie', 'Mason', 'Theresa', 'Roy', 'Diana', 'Ralph', 'Brittany', 'Bobby', 'Doris', 'Russell', 'Kayla', 'Bradley', 'Alexis', 'Philip', 'Lori', 'Eugene', 'Marie', 'Chloé', 'José', 'Zoë', 'Renée', 'Héctor', 'Inés'];
const LAST = ['Smith', 'Johnson', 'Williams', 'Brown', 'Jones', 'Garcia', 'Miller', 'Davis', 'Rodriguez', 'Martinez', 'Hernandez', 'Lopez', 'Gonzalez', 'Wilson', 'Anderson', 'Thomas', 'Taylor', 'Moore', 'Jackson', 'Martin', 'Lee', 'Perez', 'Thompson', 'White', 'Harris', 'Sanchez', 'Clark', 'Ramirez', 'Lewis', 'Robinson', 'Walker', 'Young', 'Allen', 'King', 'Wright', 'Scott', 'Torres', 'Nguyen', 'Hill', 'Flores', 'Green', 'Adams', 'Nelson', 'Baker', 'Hall', 'Rivera', 'Campbell', 'Mitchell', 'Carter', 'Roberts', 'Gomez', 'Phillips', 'Evans', 'Turner', 'Diaz', 'Parker', 'Cruz', 'Edwards', 'Collins', 'Reyes', 'Stewart', 'Morris', 'Morales', 'Murphy', 'Cook', 'Rogers', 'Gutierrez', 'Ortiz', 'Morgan', 'Cooper', 'Peterson', 'Bailey', 'Reed', 'Kelly', 'Howard', 'Ramos', 'Kim', 'Cox', 'Ward', 'Richardson', 'Watson', 'Brooks', 'Chavez', 'Wood', 'James', 'Bennett', 'Gray', 'Mendoza', 'Ruiz', 'Hughes', 'Price', 'Alvarez', 'Castillo', 'Sanders', 'Patel', 'Myers', 'Long', 'Ross', 'Foster', 'Jimenez', 'Powell', 'Jenkins', 'Perry', 'Russell', 'Sullivan', 'Bell', 'Coleman', 'Butler', 'Henderson', 'Barnes', 'Gonzales', 'Fisher', 'Vasquez', 'Simmons', 'Romero', 'Jordan', 'Patterson', 'Alexander', 'Hamilton', 'Graham', 'Reynolds', 'Griffin', 'Wallace', 'Moreno', 'West', 'Cole', 'Hayes', 'Bryant', 'Herrera', 'Gibson', 'Ellis', 'Tran', 'Medina', 'Aguilar', 'Stevens', 'Murray', 'Ford', 'Castro', 'Marshall', 'Owens', 'Harrison', 'Fernandez', 'McDonald', 'Woods', 'Washington', 'Kennedy', 'Wells', 'Vargas', 'Henry', 'Chen', 'Freeman', 'Webb', 'Tucker', 'Guzman', 'Burns', 'Crawford', 'Olson', 'Simpson', 'Porter', 'Hunter', 'Gordon', 'Mendez', 'Silva', 'Shaw', 'Snyder', 'Mason', 'Dixon', 'Munoz', 'Hunt', 'Hicks', 'Holmes', 'Palmer', 'Wagner', 'Black', 'Robertson', 'Boyd', 'Rose', 'Stone', 'Salazar', 'Fox', 'Warren', 'Mills', 'Meyer', 'Rice', 'Schmidt', 'Garza', 'Daniels', 'Ferguson', 'Nichols', 'Stephens', 'Soto', 'Weaver', 'Ryan', 'Gardner', 'Payne', 'Grant', 'Dunn', 'Kelley', 'Spencer', 'Hawkins', 'Arnold', 'Pierce', 'Vazquez', 'Hansen', 'Peters', 'Santos', 'Hart', 'Bradley', 'Knight', 'Elliott', 'Cunningham', 'Duncan', 'Armstrong', 'Hudson', 'Carroll', 'Lane', 'Riley', 'Andrews', 'Alvarado', 'Ray', 'Delgado', 'Berry', 'Perkins', 'Hoffman', 'Johnston', 'Matthews', 'Peña', 'Richards', 'Contreras', 'Willis', 'Carpenter', 'Lawrence', 'Sandoval', 'Guerrero', 'George', 'Chapman', 'Rios', 'Estrada', 'Ortega', 'Watkins', 'Greene', 'Núñez', 'Wheeler', 'Valdez', 'Harper', 'Burke', 'Larson', 'Santiago', 'Maldonado', 'Morrison', 'Franklin', 'Carlson', 'Austin', 'Dominguez', 'Carr', 'Lawson', 'Jacobs', "O'Brien", 'Lynch', 'Singh', 'Vega', 'Bishop', 'Montgomery', 'Oliver', 'Jensen', 'Harvey', 'Williamson', 'Gilbert', 'Dean', 'Sims', 'Espinoza', 'Howell', 'Li', 'Wong', 'Reid', 'Hanson', 'Le', 'McCoy', 'Garrett', 'Burton', 'Fuller', 'Wang', 'Weber', 'Welch', 'Rojas', 'Lucas', 'Marquez', 'Fields', 'Park', 'Yang', 'Little', 'Banks', 'Padilla', 'Day', 'Walsh', 'Bowman', 'Schultz', 'Luna', 'Fowler', 'Mejia', 'Davidson', 'Acosta', 'Brewer', 'May', 'Holland', 'Juarez', 'Newman', 'Pearson', 'Curtis', 'Cortez', 'Douglas', 'Schneider', 'Joseph', 'Barrett', 'Navarro', 'Figueroa', 'Keller', 'Ávila', 'Wade', 'Molina', 'Stanley', 'Hopkins', 'Campos', 'Barnett', 'Bates', 'Chambers', 'Caldwell', 'Beck', 'Lambert', 'Miranda', 'Byrd', 'Craig', 'Ayala', 'Lowe', 'Frazier', 'Powers', 'Neal', 'Leonard', 'Gregory', 'Carrillo', 'Sutton', 'Fleming', 'Rhodes', 'Shelton', 'Schwartz', 'Norris', 'Jennings', 'Watts', 'Duran', 'Walters', 'Cohen', 'McDaniel', 'Moran', 'Parks', 'Steele', 'Vaughn', 'Becker', 'Holt', 'DeLeon', 'Barker', 'Terry', 'Hale', 'Leon', 'Hail', 'Benson', 'Haynes', 'Horton', 'Miles', 'Lyons', 'Pham', 'Graves', 'Bush', 'Thornton', 'Wolfe', 'Warner', 'Cabrera', 'McKinney', 'Mann', 'Zimmerman', 'Dawson', 'Lara', 'Fletcher', 'Page', 'McCarthy', 'Love', 'Robles', 'Cervantes', 'Solis', 'Erickson', 'Reeves', 'Chang', 'Klein', 'Salinas', 'Fuentes', 'Baldwin', 'Daniel', 'Simon', 'Velasquez', 'Hardy', 'Higgins', 'Aguirre', 'Lin', 'Cummings', 'Chandler', 'Sharp', 'Barber', 'Bowen', 'Ochoa', 'Dennis', 'Robbins', 'Liu', 'Ramsey', 'Francis', 'Griffith', 'Paul', 'Blair', "O'Connor", 'Cardenas', 'Pacheco', 'Cross', 'Calderon', 'Quinn', 'Moss', 'Swanson', 'Chan', 'Rivas', 'Khan', 'Rodgers', 'Serrano', 'FitzGerald', 'Rosales', 'Stevenson', 'Christensen', 'Manning', 'Gill', 'Curry', 'McLaughlin', 'Harmon', 'McGee', 'Gross', 'Doyle', 'Garner', 'Newton', 'Burgess', 'Reese', 'Walton', 'Blake', 'Trujillo', 'Adkins', 'Brady', 'Goodman', 'Roman', 'Webster', 'Goodwin', 'Fischer', 'Huang', 'Potter', 'Delacruz', 'Montoya', 'Todd', 'Wu', 'Hines', 'Mullins', 'Castaneda', 'Malone', 'Cannon', 'Tate', 'Mack', 'Sherman', 'Hubbard', 'Hodges', 'Zhang', 'Guerra', 'Wolf', 'Valencia', 'Saunders', 'Franco', 'Rowe', 'Gallagher', 'Farmer', 'Hammond', 'Hampton', 'Townsend', 'Ingram', 'Wise', 'Gallegos', 'Clarke', 'Barton', 'Schroeder', 'Maxwell', 'Waters', 'Logan', 'Camacho', 'Strickland', 'Norman', 'Person', 'Colon', 'Parsons', 'Frank', 'Harrington', 'Glover', 'Osborne', 'Buchanan', 'Casey', 'Floyd', 'Patton', 'Ibarra', 'Ball', 'Tyler', 'Suarez', 'Bowers', 'Orozco', 'Salas', 'Cobb', 'Gibbs', 'Andrade', 'Bauer', 'Conner', 'Moody', 'Escobar', 'McGuire', 'Lloyd', 'Mueller', 'Hartman', 'French', 'Kramer', 'McBride', 'Pope', 'Lindsey', 'Velazquez', 'Norton', 'McCormick', 'Sparks', 'Flynn', 'Yates', 'Hogan', 'Marsh', 'Macias', 'Villanueva', 'Zamora', 'Pratt', 'Stokes', 'Owen', 'Ballard', 'Lang', 'Brock', 'Villarreal', 'Charles', 'Drake', 'Barrera', 'Cain', 'Patrick', 'Piña', 'Burnett', 'Bzondi', 'Biondi'];
const CITIES: Array<[string, string, number]> = [['New York', 'NY', 10001], ['Los Angeles', 'CA', 90001], ['Chicago', 'IL', 60601], ['Houston', 'TX', 77001], ['Phoenix', 'AZ', 85001], ['Philadelphia', 'PA', 19101], ['San Antonio', 'TX', 78201], ['San Diego', 'CA', 92101], ['Dallas', 'TX', 75201], ['San Jose', 'CA', 95101], ['Seattle', 'WA', 98101]];
const MAIL = ['gmail.com', 'outlook.com', 'yahoo.com', 'hotmail.com', 'icloud.com', 'proton.me'];
const WORK = ['contoso.com', 'fabrikam.com', 'northwind.com', 'litware.com', 'adventure-works.com', 'tailspin.com', 'proseware.com', 'wingtiptoys.com'];
const STREETS = ['Main St', 'Oak Ave', 'Pine Blvd', 'Maple Plaza', 'Cedar St', 'Elm Ave', 'Hill Blvd', 'Lake St'];
const PRODUCTS: Array<[string, number]> = [['P-100', 12999], ['P-200', 17950], ['P-310', 89900], ['P-400', 3995], ['P-410', 2999], ['P-500', 19800]];

/** mulberry32: small, fast, deterministic. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const csv = (v: string | number) => {
  const s = String(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};

class Out {
  private readonly stream: fs.WriteStream;
  private buffer = '';
  constructor(file: string, header: string) {
    this.stream = fs.createWriteStream(file);
    this.buffer = `${header}\r\n`;
  }
  async row(values: Array<string | number>): Promise<void> {
    this.buffer += `${values.map(csv).join(',')}\r\n`;
    if (this.buffer.length > 1 << 16) {
      if (!this.stream.write(this.buffer)) await once(this.stream, 'drain');
      this.buffer = '';
    }
  }
  async close(): Promise<void> {
    this.stream.end(this.buffer);
    await once(this.stream, 'finish');
  }
}

export interface GeneratedSet {
  dir: string;
  persons: number;
  personRecords: number;
  purchases: number;
  rows: number;
}

/** `records`: person records (contacts + loyalty members) to write, about 1.6 per person. */
export async function generate(records: number, dir: string, seed = 42): Promise<GeneratedSet> {
  fs.mkdirSync(dir, { recursive: true });
  const rnd = prng(seed);
  const pick = <T>(list: readonly T[]) => list[Math.floor(rnd() * list.length)];
  const chance = (p: number) => rnd() < p;
  const digits = (n: number) => Array.from({ length: n }, () => Math.floor(rnd() * 10)).join('');
  const contacts = new Out(path.join(dir, 'contacts.csv'), 'ContactId,FirstName,LastName,FullName,DateOfBirth,Gender,EMail,Telephone,PostCode,StreetAddress,City,State,Country,CreatedOn,Loyalty Tier,Email Subscriber,Income,Occupation,CustomerSatisfaction');
  const loyalty = new Out(path.join(dir, 'loyalty.csv'), 'LoyaltyId,ContactId,FirstName,LastName,FullName,DateOfBirth,Gender,EMail,Telephone,RewardPoints,CreditCard,CreatedOn');
  const pos = new Out(path.join(dir, 'pos_purchases.csv'), 'LoyaltyId,PurchaseId,ProductId,PurchasedOn,TotalPrice,RewardPointsAdded,ActivityTypeDisplay,Subject');
  const online = new Out(path.join(dir, 'online_purchases.csv'), 'ContactId,PurchaseId,ProductId,PurchasedOn,TotalPrice,ActivityTypeDisplay,Subject');
  const truth = new Out(path.join(dir, 'truth.csv'), 'SourceKey,PersonId');

  const typo = (s: string) => {
    if (s.length < 4) return s;
    const i = 1 + Math.floor(rnd() * (s.length - 2));
    const kind = rnd();
    if (kind < 0.4) return s.slice(0, i) + String.fromCharCode(97 + Math.floor(rnd() * 26)) + s.slice(i + 1);
    if (kind < 0.7) return s.slice(0, i) + s[i + 1] + s[i] + s.slice(i + 2);
    return s.slice(0, i) + s[i] + s.slice(i);
  };
  const phoneFormat = (p: string) => {
    const [a, b, c] = [p.slice(0, 3), p.slice(3, 6), p.slice(6)];
    return pick([`${a}.${b}.${c}`, `(${a}) ${b}-${c}`, `${a}-${b}-${c}`, `+1 ${a} ${b} ${c}`, `${a}${b}${c}`, `${a}.${b}.${c}x${digits(4)}`]);
  };
  const date = (y0: number, span: number) => {
    const d = new Date(Date.UTC(y0, 0, 1) + Math.floor(rnd() * span * 365) * 86_400_000);
    return { iso: d.toISOString().slice(0, 10), us: `${d.getUTCMonth() + 1}/${d.getUTCDate()}/${d.getUTCFullYear()}` };
  };

  // An address belongs to one person: namesakes get a number, as mail providers insist.
  const taken = new Set<string>();
  const unique = (local: string, domain: string, numbered: boolean) => {
    let candidate = numbered ? `${local}${Math.floor(rnd() * 1000)}@${domain}` : `${local}@${domain}`;
    while (taken.has(candidate)) candidate = `${local}${Math.floor(rnd() * 100000)}@${domain}`;
    taken.add(candidate);
    return candidate;
  };

  let written = 0;
  let person = 0;
  let contactSeq = 1000;
  let loyaltySeq = 1000;
  let purchaseSeq = 1000;
  let purchases = 0;
  while (written < records) {
    person++;
    const first = pick(FIRST);
    const last = pick(LAST);
    const dob = date(1940, 62);
    const phone = `${2 + Math.floor(rnd() * 8)}${digits(9)}`;
    const [city, state, zip] = pick(CITIES);
    const localPart = `${first}.${last}`.normalize('NFKD').replace(/[^\w.]/g, '').toLowerCase();
    const personal = unique(localPart, pick(MAIL), chance(0.6));
    const hasContact = chance(0.75);
    const hasLoyalty = !hasContact || chance(0.55);
    let contactKey: string | null = null;
    const gender = pick(['Male', 'Female', 'Other', '']);

    if (hasContact) {
      const copies = chance(0.03) ? 2 : 1;
      for (let c = 0; c < copies && written < records; c++) {
        contactKey = `CNTID_${++contactSeq}`;
        const email = c === 1 && chance(0.5) ? ` ${personal.toUpperCase()}` : personal;
        const full = chance(0.15) ? `${last} ${first}` : chance(0.05) ? `${typo(first)} ${last}` : `${first} ${last}`;
        await contacts.row([contactKey, first, last, full, chance(0.04) ? '' : dob.us, gender, email, chance(0.08) ? '' : phoneFormat(phone),
          zip + Math.floor(rnd() * 99), `${100 + Math.floor(rnd() * 9900)} ${pick(STREETS)}`, city, state, 'USA', date(2016, 6).us,
          pick(['low', 'medium', 'high']), pick(['Yes', 'No']), (20000 + rnd() * 230000).toFixed(6), pick(['Teacher', 'Nurse', 'Designer', 'Manager', 'Retired']), pick(['low', 'medium', 'high'])]);
        await truth.row([contactKey, person]);
        written++;
        for (let k = Math.floor(rnd() * 4); k > 0; k--) {
          const [product, cents] = pick(PRODUCTS);
          const qty = 1 + Math.floor(rnd() * 3);
          await online.row([contactKey, `OPID_${++purchaseSeq}`, product, date(2017, 5).us, ((cents * qty) / 100).toFixed(2), 'OnlinePurchase', 'Purchased a product online']);
          purchases++;
        }
      }
    }
    if (hasLoyalty && written < records) {
      const loyaltyKey = `LOYID_${++loyaltySeq}`;
      const f = chance(0.06) ? typo(first) : chance(0.05) ? first.toUpperCase() : first;
      const l = chance(0.06) ? typo(last) : last;
      const full = chance(0.15) ? `${l}, ${f}` : chance(0.05) ? `  ${f}  ${l} ` : `${f} ${l}`;
      const email = chance(0.15) ? unique(localPart.replace('.', '_'), pick(WORK), false) : chance(0.05) ? '' : chance(0.1) ? personal.toUpperCase() : personal;
      await loyalty.row([loyaltyKey, contactKey && chance(0.1) ? contactKey : '', f, l, full, chance(0.12) ? '' : dob.iso, gender, email,
        chance(0.1) ? '' : phoneFormat(phone), Math.floor(rnd() * 300), pick(['Yes', 'No']), date(2017, 5).iso]);
      await truth.row([loyaltyKey, person]);
      written++;
      for (let k = Math.floor(rnd() * 5); k > 0; k--) {
        const [product, cents] = pick(PRODUCTS);
        const qty = 1 + Math.floor(rnd() * 3);
        await pos.row([loyaltyKey, `PID_${++purchaseSeq}`, product, date(2017, 5).iso, ((cents * qty) / 100).toFixed(2), Math.floor((cents * qty) / 1000), 'POS Purchase', 'Purchased a product In-Store']);
        purchases++;
      }
    }
    if (chance(0.05)) {
      const [product, cents] = pick(PRODUCTS);
      await pos.row(['', `PID_${++purchaseSeq}`, product, date(2017, 5).iso, (cents / 100).toFixed(2), 0, 'POS Purchase', 'Purchased a product In-Store']);
      purchases++;
    }
  }
  await Promise.all([contacts.close(), loyalty.close(), pos.close(), online.close(), truth.close()]);
  fs.writeFileSync(path.join(dir, 'ATTRIBUTION.txt'),
    'Generated by bench/customers/generate.ts: invented people and values, in the column layout of the Contoso sample sources\n' +
    'published by Microsoft with the Customer Insights documentation (MicrosoftDocs/customer-insights, ci-docs/data/ciad-files/),\n' +
    'licence Creative Commons Attribution 4.0.\n');
  return { dir, persons: person, personRecords: written, purchases, rows: written + purchases };
}
