// Generates registration tokens the way a Node.js team would, with the
// jsonwebtoken package: jwt.sign with the kid in the header, iat added by
// the library, typ added by the library, the signing key derived with
// node's crypto. One correct case and one case per classic mistake.
//
// The tokens are written, with their fixed inputs, to ../node.json, which
// credentials/check_test.go replays; the Go tests never run node.
//
//	cd credentials/testdata/check/gen && npm install && node gen_node.js
//
// The clock is fixed per case (Date.now is replaced) so that the output
// is reproducible apart from the random nonces.
'use strict';

// The local-date mistake needs a zone whose date differs from UTC's at the
// chosen time: 22:30 UTC is 09:30 the next day in Sydney (UTC+11 in March).
process.env.TZ = 'Australia/Sydney';

const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const jwt = require('jsonwebtoken');

const appKey = 'a32e5a8d-f7d8-411c-9645-9038e8dd051d';
const secret = 'ax8hTTQJF0OPXL32r1LHMA==';
// Check's default users, in the order of its five requests.
const users = ['check-user-1', 'Check_User_2', 'cu3', 'check-user-1', 'Check_User_2'];

// The correct way: UTC date, key from the DECODED secret.
function utcDate(d) {
  return d.toISOString().slice(0, 10).replace(/-/g, '');
}
// The Sinch samples' way: the local date.
function localDate(d) {
  const p = (n) => String(n).padStart(2, '0');
  return String(d.getFullYear()) + p(d.getMonth() + 1) + p(d.getDate());
}
function signingKey(date) {
  return crypto.createHmac('sha256', Buffer.from(secret, 'base64')).update(date, 'utf8').digest();
}

function mint(user, mistake) {
  const now = new Date(Date.now());
  let date = utcDate(now);
  let key = signingKey(date);
  const payload = {
    iss: '//rtc.sinch.com/applications/' + appKey,
    sub: '//rtc.sinch.com/applications/' + appKey + '/users/' + user,
    nonce: crypto.randomUUID(),
  };
  let expiresIn = 600;
  switch (mistake) {
    case 'secret_text_as_key': // secret_not_base64_decoded in docs/ERRORS.md (rule 4 of docs/RULES.md): HMAC256(applicationSecret, ...)
      key = crypto.createHmac('sha256', secret).update(date, 'utf8').digest();
      break;
    case 'local_date_kid':
      date = localDate(now);
      key = signingKey(date);
      break;
    case 'milliseconds': // iat given explicitly from Date.now(); jsonwebtoken adds expiresIn to it
      payload.iat = Date.now();
      break;
    case 'missing_nonce':
      delete payload.nonce;
      break;
    case 'short_ttl':
      expiresIn = 30;
      break;
  }
  return jwt.sign(payload, key, { algorithm: 'HS256', keyid: 'hkdfv1-' + date, expiresIn });
}

const cases = [
  { name: 'correct', now: '2024-03-10T12:00:00Z', expect: 'valid', severity: 'PASS' },
  { name: 'secret_text_as_key', now: '2024-03-10T12:00:00Z', expect: 'secret_not_base64_decoded', severity: 'FAIL' },
  { name: 'local_date_kid', now: '2024-03-10T22:30:00Z', expect: 'kid_date_not_utc', severity: 'FAIL' },
  { name: 'milliseconds', now: '2024-03-10T12:00:00Z', expect: 'timestamps_in_milliseconds', severity: 'FAIL' },
  { name: 'missing_nonce', now: '2024-03-10T12:00:00Z', expect: 'claim_missing', severity: 'FAIL' },
  { name: 'short_ttl', now: '2024-03-10T12:00:00Z', expect: 'token_ttl_too_short', severity: 'FAIL' },
];

const realNow = Date.now;
const out = {
  generator: 'node ' + process.version + ', jsonwebtoken ' + require('jsonwebtoken/package.json').version,
  timezone: process.env.TZ,
  app_key: appKey,
  secret: secret,
  cases: cases.map((c) => {
    const fixed = Date.parse(c.now);
    Date.now = () => fixed;
    const tokens = users.map((user) => ({ user, token: mint(user, c.name === 'correct' ? '' : c.name) }));
    Date.now = realNow;
    return { ...c, tokens };
  }),
};
fs.writeFileSync(path.join(__dirname, '..', 'node.json'), JSON.stringify(out, null, 2) + '\n');
console.log('wrote', out.cases.length, 'cases to node.json');
