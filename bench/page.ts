/**
 * A deterministic HTML page of a given size that compresses like a real one (markup repeated with varying text from
 * a vocabulary of a few hundred words): random bytes would not compress at all, one repeated line far too well.
 * Shared by the compress bench section and the compression tests.
 */
const WORDS = (
  'the of and to in is for on that with as by at from this be are was it an or have not more new all one about ' +
  'their which will can has our can out other also its time into only over some two may first these after most ' +
  'people year years such could world state city news report market week company government said would between ' +
  'under while during where when home page local sport travel business culture science health opinion weather ' +
  'video photo live update latest story stories editor reader comment share follow subscribe account search menu ' +
  'article headline summary author published updated minutes read related more trending popular morning evening ' +
  'council school price prices energy water housing transport rail road airport museum festival music film book ' +
  'review interview analysis explainer guide review season team match goal league final player coach record'
).split(' ')

export function makePage (bytes: number, seed = 1): Buffer {
  let s = seed >>> 0
  const next = (n: number): number => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    return s % n
  }
  const words = (n: number): string => {
    let out = ''
    for (let i = 0; i < n; i++) out += (i === 0 ? '' : ' ') + (WORDS[next(WORDS.length)] as string)
    return out
  }
  let html = '<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>' + words(6) +
    '</title><link rel="stylesheet" href="/static/site.css"></head>\n<body class="page page--front">\n<main id="content">\n'
  let n = 0
  while (html.length < bytes - 200) {
    n++
    html += `<article class="card card--story" data-id="${100000 + next(900000)}">\n` +
      `  <a class="card__link" href="/news/${words(3).replace(/ /g, '-')}-${n}">\n` +
      `    <h2 class="card__title">${words(5 + next(6))}</h2>\n  </a>\n` +
      `  <p class="card__summary">${words(18 + next(20))}.</p>\n` +
      `  <footer class="card__meta"><span class="author">${words(2)}</span> <time datetime="2026-12-0${1 + next(9)}T${10 + next(13)}:${10 + next(49)}:00Z">${next(59) + 1} minutes ago</time></footer>\n` +
      '</article>\n'
  }
  html += '</main>\n<footer class="site-footer">' + words(12) + '</footer>\n</body></html>\n'
  return Buffer.from(html.padEnd(bytes, ' ').slice(0, bytes))
}
