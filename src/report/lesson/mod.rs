//! `lesson.html`: a page to step a class through PCC packet by packet — the router as a
//! diagram of its chains ([`steps`]), one connection's walk through it step by step, the
//! first connections falling into the classifiers' buckets ([`buckets`]), the run's timeline
//! under a scrubber ([`replay`], with `--timeline`), and what-ifs (another classifier,
//! FastTrack on or off, the reply-marking mistake) the page switches between, each saying
//! what changed. Everything is computed ahead by [`crate::lesson`]; the page is one file with no
//! external resource, its script only shows what is written into it, and all of it is also
//! printed for a reader without JavaScript.

mod buckets;
mod replay;
mod steps;

use super::Summary;
use super::html::esc;
use crate::error::Error;
use crate::lesson::Lesson;
use crate::trace::Walk;
use std::fmt::Write as _;

pub const LESSON_FILE: &str = "lesson.html";

/// Writes `lesson.html` for `lesson` into `dir`; the replay only where `timeline`.
pub fn write_lesson(dir: &std::path::Path, lesson: &Lesson, timeline: bool) -> Result<(), Error> {
    let path = dir.join(LESSON_FILE);
    std::fs::write(&path, page(lesson, timeline)).map_err(|e| Error::io(&path, e))
}

fn page(lesson: &Lesson, timeline: bool) -> String {
    let base = &lesson.variants[0];
    let name = &base.loaded.scenario.name;
    let wans: Vec<String> = (base.run.metrics.wans.iter())
        .map(|w| w.name.clone())
        .collect();
    let summaries: Vec<Summary> = (lesson.variants.iter())
        .map(|v| Summary::new(&v.loaded, &v.run))
        .collect();
    let mut out = String::new();
    let _ = writeln!(out, "<h1>{} — PCC, packet by packet</h1>", esc(name));
    let _ = writeln!(
        out,
        "<p class=\"sub\">The router as its configuration ({}) builds it, and {} of the \
         scenario's traffic run through it (seed {}). Step with ← and → (or the buttons); switch \
         what-ifs with the number keys. Everything is also written out below.</p>",
        esc(&base.loaded.config_file),
        crate::units::format_duration(lesson.duration),
        base.loaded.scenario.seed
    );
    out.push_str("<nav class=\"whatif\"><b>What if:</b> ");
    for (k, v) in lesson.variants.iter().enumerate() {
        let _ = write!(
            out,
            "<button data-variant=\"{k}\">{} {}</button> ",
            k + 1,
            esc(&v.what.label())
        );
    }
    out.push_str("</nav>\n");
    for (k, v) in lesson.variants.iter().enumerate() {
        let id = format!("v{k}");
        let _ = writeln!(
            out,
            "<section class=\"variant\" id=\"{id}\"><h2>{}. {}</h2>",
            k + 1,
            esc(&v.what.label())
        );
        changed(&mut out, lesson, k, &summaries);
        let base = (k > 0).then_some(&base.loaded.config);
        out.push_str("<h3>One connection, step by step</h3>\n");
        steps::current(&mut out, &id);
        steps::diagram(&mut out, &id, &v.loaded.config, base);
        steps::steps(&mut out, &v.walks, &id);
        if timeline {
            replay::replay(&mut out, &id, v, &wans);
        }
        out.push_str("</section>\n");
    }
    if !lesson.not_offered.is_empty() {
        out.push_str("<p class=\"sub\">Not offered here: ");
        // One reason often rules out several (no PCC rules: every classifier).
        let mut by_reason: Vec<(Vec<&str>, &str)> = Vec::new();
        for (what, why) in &lesson.not_offered {
            match by_reason.iter_mut().find(|(_, w)| w == why) {
                Some((whats, _)) => whats.push(what),
                None => by_reason.push((vec![what], why)),
            }
        }
        let why: Vec<String> = (by_reason.iter())
            .map(|(whats, why)| format!("{} ({})", esc(&whats.join(", ")), esc(why)))
            .collect();
        let _ = writeln!(out, "{}.</p>", why.join("; "));
    }
    buckets::grid(&mut out, &lesson.variants, &wans);
    out.push_str(SCRIPT);
    super::html::page_with(&format!("{name} — pccsim lesson"), &out, STYLE)
}

/// `pccsim trace --format html`: the lesson's diagram and step view for one connection.
pub fn trace_page(config: &crate::RouterConfig, config_file: &str, walks: &[Walk]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "<h1>trace — PCC, packet by packet</h1>\n<p class=\"sub\">The router as its configuration \
         ({}) builds it. Step with ← and → (or the buttons); every step is also written out \
         below.</p>\n<section class=\"variant\" id=\"v0\">",
        esc(config_file)
    );
    steps::current(&mut out, "v0");
    steps::diagram(&mut out, "v0", config, None);
    steps::steps(&mut out, walks, "v0");
    out.push_str("</section>\n");
    out.push_str(SCRIPT);
    super::html::page_with("pccsim trace", &out, STYLE)
}

/// What a what-if changed against the configuration as given: the rewrite, by line; where
/// each packet of the walked connection went instead; and what the run measured instead.
fn changed(out: &mut String, lesson: &Lesson, k: usize, summaries: &[Summary]) {
    let (base, v) = (&lesson.variants[0], &lesson.variants[k]);
    let Some(rewrote) = &v.rewrote else {
        let s = &summaries[0];
        let _ = writeln!(
            out,
            "<div class=\"changed\"><p>{}</p></div>",
            esc(&super::story(s).join(" "))
        );
        return;
    };
    let _ = write!(
        out,
        "<div class=\"changed\"><h3>What changed</h3><ul><li><b>The rules:</b> {}</li>",
        esc(rewrote)
    );
    for (was, now) in base.walks.iter().zip(&v.walks) {
        let which = match was.direction {
            "packet" => "The first packet",
            "reply" => "The reply",
            _ => "A later packet",
        };
        if (&was.verdict, &was.left) != (&now.verdict, &now.left) {
            let _ = write!(
                out,
                "<li><b>{which}:</b> {} as {} <i>(as configured: {} as {})</i></li>",
                esc(&now.verdict),
                esc(&now.left),
                esc(&was.verdict),
                esc(&was.left)
            );
        }
    }
    let outcome = |w: &'_ Walk| (w.verdict.clone(), w.left.clone());
    if base
        .walks
        .iter()
        .map(outcome)
        .eq(v.walks.iter().map(outcome))
    {
        out.push_str(
            "<li><b>The walked connection:</b> each of its packets goes where it went before.</li>",
        );
    }
    let (was, now) = (&summaries[0], &summaries[k]);
    let split = |s: &Summary| -> String {
        let parts: Vec<String> = (s.wans.iter())
            .map(|w| format!("{} {}", w.name, super::pct(w.connection_share)))
            .collect();
        parts.join(", ")
    };
    let _ = write!(
        out,
        "<li><b>New connections:</b> {} <i>(as configured: {})</i></li>\
         <li><b>Broken connections:</b> {} of {} <i>(as configured: {} of {})</i>{}</li>",
        esc(&split(now)),
        esc(&split(was)),
        now.connections.broken,
        now.connections.total,
        was.connections.broken,
        was.connections.total,
        worst(now).map_or(String::new(), |(c, n)| format!(
            "; most often {} ({n})",
            esc(&c)
        ))
    );
    if now.checks.packets_wrong_source > was.checks.packets_wrong_source {
        let _ = write!(
            out,
            "<li><b>Packets that left a WAN with another WAN's address:</b> {} <i>(as configured: {})</i></li>",
            now.checks.packets_wrong_source, was.checks.packets_wrong_source
        );
    }
    out.push_str("</ul></div>\n");
}

/// The cause most connections broke by, and how many.
fn worst(s: &Summary) -> Option<(String, u64)> {
    (s.connections.broken_by_cause.iter())
        .max_by_key(|(_, n)| **n)
        .map(|(c, n)| (c.clone(), *n))
}

/// The WANs' colours, as in the run's charts (Okabe and Ito).
const COLOURS: [&str; 7] = [
    "#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#f0e442",
];

const STYLE: &str = "
.path { display: flex; gap: 0.6em; align-items: stretch; margin: 0.8em 0; flex-wrap: wrap; }
.port { background: #333; color: white; padding: 0.5em; border-radius: 4px; align-self: center; }
.stage { border: 2px solid #888; border-radius: 6px; padding: 0.3em 0.5em; flex: 1; min-width: 16em; }
.stage h3 { margin: 0.1em 0 0.3em; font-size: 1em; }
.chain h4 { margin: 0.2em 0; font-size: 0.85em; color: #555; }
.chain ol { list-style: none; padding: 0; margin: 0; font-size: 0.75em; font-family: monospace; }
.chain li { padding: 0.15em 0.3em; border-radius: 3px; }
.chain li.none { color: #999; }
.chain li.lit-yes { background: #c8f0c8; outline: 2px solid #2a2; }
.chain li.lit-no { background: #f6d6d6; outline: 2px solid #c33; }
.chain li.unused { opacity: 0.35; }
.chain li.changed { border-left: 4px solid #1f6fd0; background: #eef4fb; }
.controls button, nav.whatif button { font-size: 1.1em; }
nav.whatif { position: sticky; top: 0; background: white; padding: 0.4em 0; z-index: 1;
             border-bottom: 1px solid #ddd; }
nav.whatif button.on { background: #333; color: white; }
body.js section.variant { display: none; } body.js section.variant.shown { display: block; }
.changed { background: #eef4fb; border: 1px solid #9bbbe0; padding: 0.3em 0.8em; }
.changed h3 { margin: 0.3em 0; font-size: 1em; }
.current { font-size: 1.1em; background: #fff8d8; border: 1px solid #e0c860; padding: 0.6em;
           min-height: 3em; font-family: monospace; }
.steps li.yes { color: #174; } .steps li.no { color: #666; } .steps li.at { background: #fff8d8; }
.steps { font-family: monospace; font-size: 0.85em; }
.swatch { display: inline-block; width: 0.9em; height: 0.9em; margin-right: 0.4em; }
.panels { display: flex; flex-wrap: wrap; gap: 1.2em; }
.panel h3 { margin: 0.3em 0; }
.cards { display: flex; gap: 0.8em; flex-wrap: wrap; margin: 0.5em 0; }
.card { border: 2px solid #888; border-radius: 6px; padding: 0.3em 0.6em; min-width: 14em; }
.card.out { border-color: #c33; background: #fbe9e9; }
.card b { display: block; } .card .fault { color: #b00020; }
.scrub input { width: 60%; } .clock { font-family: monospace; font-size: 1.2em; }
.events { font-size: 0.85em; } .events li.future { color: #aaa; }
.events li.now { background: #fff8d8; font-weight: bold; }
";

/// Steps through the visible variant's walk, lighting the rule being tried in its diagram;
/// switches variants (the buttons, or the number keys); moves each replay's cursor. A
/// fragment like `#variant=2&keys=ArrowRight,ArrowRight&t=300` picks a variant, presses
/// those keys and moves the replays to that second, on load (for tests, and for links).
const SCRIPT: &str = r#"<script>
(function () {
  document.body.classList.add('js');
  var variants = document.querySelectorAll('section.variant');
  var v = 0, at = 0;
  function show() {
    variants.forEach(function (s, i) { s.classList.toggle('shown', i === v); });
    document.querySelectorAll('nav.whatif button').forEach(function (b, i) {
      b.classList.toggle('on', i === v);
    });
    document.querySelectorAll('.lit-yes, .lit-no, .steps li.at').forEach(function (e) {
      e.classList.remove('lit-yes', 'lit-no', 'at');
    });
    var section = variants[v];
    if (!section) { return; }
    var steps = section.querySelectorAll('ol.steps li');
    at = Math.max(0, Math.min(at, steps.length - 1));
    var s = steps[at];
    section.querySelector('.current').textContent = s ? s.textContent : '';
    section.querySelector('.count').textContent =
      steps.length ? 'step ' + (at + 1) + ' of ' + steps.length : '';
    if (s) { s.classList.add('at'); }
    var target = s && s.dataset.target ? document.getElementById(s.dataset.target) : null;
    if (target) {
      target.classList.add(s.classList.contains('yes') ? 'lit-yes' : 'lit-no');
    }
  }
  function key(name) {
    if (name === 'ArrowRight') { at += 1; }
    if (name === 'ArrowLeft') { at -= 1; }
    var n = parseInt(name, 10);
    if (n >= 1 && n <= variants.length) { v = n - 1; }
    show();
  }
  document.addEventListener('keydown', function (e) {
    if (e.target.tagName !== 'INPUT') { key(e.key); }
  });
  document.addEventListener('click', function (e) {
    var b = e.target.closest('button');
    if (!b) { return; }
    if (b.classList.contains('next')) { key('ArrowRight'); }
    if (b.classList.contains('back')) { key('ArrowLeft'); }
    if (b.dataset.variant) { v = parseInt(b.dataset.variant, 10); show(); }
  });
  function clock(t) {
    var s = Math.floor(t), m = Math.floor(s / 60);
    return m + ':' + String(s % 60).padStart(2, '0');
  }
  var replays = [];
  document.querySelectorAll('.replay').forEach(function (r) {
    var data = JSON.parse(r.querySelector('.replay-data').textContent);
    var id = r.dataset.id;
    var scrub = r.querySelector('input[type=range]');
    var cursor = document.getElementById(id + '-cursor');
    var events = r.querySelectorAll('.events li');
    function move(i) {
      var t = data.t[i];
      r.querySelector('.clock').textContent = clock(t);
      var cards = data.names.map(function (name, w) {
        var s = data.wans[w];
        var state = s.service[i] ? 'in service' : 'out of service';
        var checks = !s.link[i] ? 'link down' :
          (s.gateway[i] ? 'check-gateway: reachable' : 'check-gateway: unreachable') +
          (s.missed[i] ? ' (' + s.missed[i] + ')' : '');
        var truth = s.fault[i] ? '<span class="fault">' + s.fault[i] + '</span><br>' : '';
        return '<div class="card' + (s.service[i] ? '' : ' out') + '"><b>' + name + ': ' + state +
          '</b>' + truth + checks + '<br>' + s.active[i] + ' connections open, ' + s.down[i] +
          ' Mbit/s down<br>' + s.broken[i] + ' broke in this interval</div>';
      });
      r.querySelector('.cards').innerHTML = cards.join('');
      var x = +cursor.dataset.left + (+cursor.dataset.right - cursor.dataset.left) * t / cursor.dataset.end;
      cursor.setAttribute('x1', x); cursor.setAttribute('x2', x);
      var now = -1;
      events.forEach(function (e, k) {
        var past = +e.dataset.sample <= i;
        e.classList.toggle('future', !past);
        e.classList.remove('now');
        if (past) { now = k; }
      });
      if (now >= 0) { events[now].classList.add('now'); }
      var section = document.getElementById(id);
      section.querySelectorAll('[id^="' + id + '-rule-routing-"]').forEach(function (e) {
        var line = +e.id.slice((id + '-rule-routing-').length);
        e.classList.toggle('unused', data.unused[i] && data.unused[i].indexOf(line) >= 0);
      });
    }
    scrub.addEventListener('input', function () { move(+scrub.value); });
    replays.push(function (seconds) {
      var i = 0;
      while (i + 1 < data.t.length && data.t[i + 1] <= seconds) { i += 1; }
      scrub.value = i; move(i);
    });
    move(0);
  });
  var hash = location.hash.slice(1).split('&');
  hash.forEach(function (part) {
    var kv = part.split('=');
    if (kv[0] === 'variant') { v = parseInt(kv[1], 10) - 1 || 0; }
    if (kv[0] === 't') { replays.forEach(function (f) { f(parseFloat(kv[1])); }); }
  });
  show();
  hash.forEach(function (part) {
    var kv = part.split('=');
    if (kv[0] === 'keys') {
      kv[1].split(',').forEach(function (k) {
        document.dispatchEvent(new KeyboardEvent('keydown', { key: k }));
      });
    }
  });
})();
</script>
"#;
