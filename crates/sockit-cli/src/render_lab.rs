//! `sockit lab`'s report as a ladder diagram (each call, the frames it caused as arrows
//! between the parties, the sockets' state), as a Mermaid sequence diagram, or as one HTML
//! page with a drawing a step (for a browser, `--web`).

use std::io::{self, Write};

use sockit::lab::LabReport;
use sockit_core::lab::{Relative, label};

/// The parties' names in the order they were named, then any address frames came from.
fn columns(r: &LabReport) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    let mut add = |n: String| {
        if !names.contains(&n) {
            names.push(n);
        }
    };
    for p in &r.parties {
        add(p.name.clone());
    }
    for f in r.steps.iter().flat_map(|s| &s.frames) {
        let (from, to) = r.named_ends(f);
        add(from);
        add(to);
    }
    names
}

pub fn ladder(out: &mut (impl Write + ?Sized), r: &LabReport) -> io::Result<()> {
    let where_ = if r.captured { "the frames they caused in the lab's own network" } else { "no capture" };
    writeln!(out, "sockit lab {}: each call, and {where_}", r.slide.name())?;
    let cols = columns(r);
    let width = cols.iter().map(String::len).max().unwrap_or(0);
    for p in &r.parties {
        match p.addr.port() {
            0 => writeln!(out, "  {:<width$}  {}", p.name, p.addr.ip())?,
            _ => writeln!(out, "  {:<width$}  {}", p.name, p.addr)?,
        }
    }
    let mut rel = Relative::default();
    let labels: Vec<Vec<String>> =
        r.steps.iter().map(|s| s.frames.iter().map(|f| label(f, &mut rel)).collect()).collect();
    let arrow = labels.iter().flatten().map(String::len).max().unwrap_or(0) + 6;
    let t0 = r.steps.iter().flat_map(|s| &s.frames).map(|f| f.t_us).min().unwrap_or(0);
    let who_width = r.steps.iter().map(|s| s.who.len()).max().unwrap_or(0);
    let indent = " ".repeat(4 + who_width + 2);
    for (i, (step, labels)) in r.steps.iter().zip(&labels).enumerate() {
        writeln!(out)?;
        writeln!(out, "{:>2}  {:<who_width$}  {}", i + 1, step.who, step.python)?;
        writeln!(out, "{indent}{}", step.call)?;
        for (f, l) in step.frames.iter().zip(labels) {
            let (from, to) = r.named_ends(f);
            let (fi, ti) = (cols.iter().position(|c| *c == from), cols.iter().position(|c| *c == to));
            let ms = (f.t_us - t0) as f64 / 1000.0;
            let line = if ti < fi {
                format!("{to:>width$} <--{l}{} {from}", "-".repeat(arrow - l.len() - 3))
            } else {
                format!("{from:>width$} --{l}{}> {to}", "-".repeat(arrow - l.len() - 3))
            };
            writeln!(out, "{indent}{ms:>9.3} ms  {line}")?;
        }
        if let Some(n) = &step.note {
            writeln!(out, "{indent}{n}")?;
        }
        for s in &step.states {
            writeln!(out, "{indent}{}: {}", s.socket, state_line(s))?;
        }
    }
    Ok(())
}

/// A socket's state as `ss -ti` writes it, and the bytes waiting to be read (`Recv-Q`).
fn state_line(s: &sockit::lab::SocketState) -> String {
    let mut line = sockit::tcp_info::ss_line(&s.tcp);
    if let Some(q) = s.recv_queue.filter(|&q| q > 0) {
        line.push_str(&format!(" recv_q:{q}"));
    }
    line
}

/// Text Mermaid takes in a message or note: `;` and `#` written as its entity codes.
fn mermaid_text(s: &str) -> String {
    s.replace('#', "#35;").replace(';', "#59;")
}

pub fn mermaid(out: &mut (impl Write + ?Sized), r: &LabReport) -> io::Result<()> {
    let cols = columns(r);
    let id = |name: &str| cols.iter().position(|c| c == name).map_or_else(|| "p".to_string(), |i| format!("p{i}"));
    writeln!(out, "sequenceDiagram")?;
    for (i, c) in cols.iter().enumerate() {
        let addr = r.parties.iter().find(|p| p.name == *c).map(|p| format!(" {}", p.addr)).unwrap_or_default();
        writeln!(out, "    participant p{i} as {}", mermaid_text(&format!("{c}{addr}")))?;
    }
    let mut rel = Relative::default();
    for step in &r.steps {
        let over = if cols.contains(&step.who) { id(&step.who) } else { "p0".into() };
        writeln!(out, "    Note over {over}: {}", mermaid_text(&step.python))?;
        for f in &step.frames {
            let (from, to) = r.named_ends(f);
            writeln!(out, "    {}->>{}: {}", id(&from), id(&to), mermaid_text(&label(f, &mut rel)))?;
        }
    }
    Ok(())
}

/// Text for HTML, its five special characters written as entities.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

/// The page's one style (the chat port's policy allows it by its hash).
const STYLE: &str = "body{font-family:sans-serif;margin:2em auto;max-width:72em;padding:0 1em;color:#111}\
h1{font-size:1.7em}h2{font-size:1.15em;margin:1.6em 0 .3em}code,.state{font-family:monospace}\
code{background:#f1f1f1;padding:.1em .3em}.note{color:#444;margin:.3em 0}.state{font-size:.9em;color:#234;margin:.1em 0}\
svg{display:block;margin:.4em 0}svg text{font-family:monospace;font-size:13px}td{padding:0 1em 0 0}";

pub fn html(out: &mut (impl Write + ?Sized), r: &LabReport) -> io::Result<()> {
    let cols = columns(r);
    let title = format!("sockit lab {}", r.slide.name());
    write!(out, "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title>", esc(&title))?;
    writeln!(out, "<style>{STYLE}</style></head><body>")?;
    writeln!(out, "<h1>{}</h1>", esc(&title))?;
    let what = if r.captured {
        "Each call, and the frames it caused in the lab's own network."
    } else {
        "Each call, and the sockets' state (no capture)."
    };
    writeln!(out, "<p>{what}</p><table>")?;
    for p in &r.parties {
        writeln!(out, "<tr><td>{}</td><td><code>{}</code></td></tr>", esc(&p.name), p.addr)?;
    }
    writeln!(out, "</table>")?;
    let mut rel = Relative::default();
    let (gap, margin, row) = (380usize, 90usize, 34usize);
    for (i, step) in r.steps.iter().enumerate() {
        // The parties this step's frames go between, in the page's order.
        let ends: Vec<(String, String)> = step.frames.iter().map(|f| r.named_ends(f)).collect();
        let cols: Vec<&String> = cols.iter().filter(|c| ends.iter().any(|(a, b)| a == *c || b == *c)).collect();
        let width = margin * 2 + gap * cols.len().saturating_sub(1);
        writeln!(out, "<section class=\"step\" id=\"step{}\">", i + 1)?;
        writeln!(out, "<h2>{}. {}: <code>{}</code></h2>", i + 1, esc(&step.who), esc(&step.python))?;
        writeln!(out, "<p><code class=\"call\">{}</code></p>", esc(&step.call))?;
        if !step.frames.is_empty() {
            let height = 26 + row * step.frames.len();
            writeln!(out, "<svg width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" role=\"img\">")?;
            writeln!(
                out,
                "<defs><marker id=\"head{i}\" markerWidth=\"10\" markerHeight=\"8\" refX=\"9\" refY=\"4\" \
                 orient=\"auto\"><path d=\"M0,0 L10,4 L0,8 z\"/></marker></defs>"
            )?;
            for (c, name) in cols.iter().enumerate() {
                let x = margin + gap * c;
                writeln!(
                    out,
                    "<text x=\"{x}\" y=\"14\" text-anchor=\"middle\" font-weight=\"bold\">{}</text>",
                    esc(name)
                )?;
                writeln!(out, "<line x1=\"{x}\" y1=\"20\" x2=\"{x}\" y2=\"{height}\" stroke=\"#999\"/>")?;
            }
            for (j, (f, (from, to))) in step.frames.iter().zip(&ends).enumerate() {
                let x = |n: &str| margin + gap * cols.iter().position(|c| *c == n).unwrap_or(0);
                let (x1, x2, y) = (x(from), x(to), 26 + row * j + row / 2 + 6);
                let l = label(f, &mut rel);
                writeln!(
                    out,
                    "<line class=\"frame\" x1=\"{x1}\" y1=\"{y}\" x2=\"{x2}\" y2=\"{y}\" stroke=\"#036\" \
                     stroke-width=\"1.5\" marker-end=\"url(#head{i})\"/>"
                )?;
                writeln!(
                    out,
                    "<text class=\"label\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
                    x1.midpoint(x2),
                    y - 6,
                    esc(&l)
                )?;
            }
            writeln!(out, "</svg>")?;
        }
        if let Some(n) = &step.note {
            writeln!(out, "<p class=\"note\">{}</p>", esc(n))?;
        }
        for st in &step.states {
            writeln!(out, "<p class=\"state\">{}: {}</p>", esc(&st.socket), esc(&state_line(st)))?;
        }
        writeln!(out, "</section>")?;
    }
    writeln!(out, "</body></html>")
}
