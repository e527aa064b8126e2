// Drives the emulator with jsforce as an integrator would; prints one JSON line of results.
// Usage: node jsforce_check.js URL ACCESS_TOKEN   (NODE_EXTRA_CA_CERTS = the emulator's ca.pem)
const jsforce = require('jsforce');

async function main() {
  const [url, token] = process.argv.slice(2);
  const out = {};
  const conn = new jsforce.Connection({ instanceUrl: url, accessToken: token, loginUrl: url, version: '59.0' });
  const id = await conn.identity();
  out.identity = { user_id: id.user_id, organization_id: id.organization_id, username: id.username };
  const acc = await conn.sobject('Account').create({ Name: 'School' });
  const created = await conn.sobject('Contact').create([
    { LastName: 'Jansen', AccountId: acc.id },
    { LastName: 'De Vries', AccountId: acc.id },
  ]);
  const ids = created.map((r) => r.id);
  const got = await conn.sobject('Contact').retrieve(ids);
  out.retrieve = got.map((r) => r && r.LastName);
  const rel = await conn.query('SELECT LastName, Account.Name FROM Contact ORDER BY LastName');
  out.parents = rel.records.map((r) => [r.LastName, r.Account && r.Account.Name]);
  const sub = await conn.query('SELECT Name, (SELECT LastName FROM Contacts ORDER BY LastName) FROM Account');
  out.children = sub.records[0].Contacts.records.map((r) => r.LastName);
  const comp = await conn.requestPost('/services/data/v59.0/composite', {
    allOrNone: true,
    compositeRequest: [
      { method: 'POST', url: '/services/data/v59.0/sobjects/Account', referenceId: 'a', body: { Name: 'Other' } },
      { method: 'POST', url: '/services/data/v59.0/sobjects/Contact', referenceId: 'c', body: { LastName: 'Bakker', AccountId: '@{a.id}' } },
      { method: 'GET', url: '/services/data/v59.0/sobjects/Contact/@{c.id}?fields=AccountId', referenceId: 'g' },
    ],
  });
  out.composite = comp.compositeResponse.map((r) => r.httpStatusCode);
  await conn.logout();
  const again = new jsforce.Connection({ instanceUrl: url, accessToken: token, version: '59.0' });
  try {
    await again.query('SELECT Id FROM Contact');
    out.after_logout = 'still works';
  } catch (err) {
    out.after_logout = err.errorCode || err.name;
  }
  console.log(JSON.stringify(out));
}

main().catch((err) => {
  console.error(err && (err.errorCode || err.name), err && err.message);
  process.exit(1);
});
