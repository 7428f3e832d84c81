//! `sockit lab`'s report as a ladder diagram (each call, the frames it caused as arrows
//! between the parties, the sockets' state) or as a Mermaid sequence diagram.

use std::io::{self, Write};

use sockit::lab::LabReport;
use sockit_core::lab::frame::Frame;
use sockit_core::lab::{Relative, ends, label};

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
        if let Some(((sip, sport), (dip, dport))) = ends(f) {
            add(r.name_of(sip, sport));
            add(r.name_of(dip, dport));
        }
    }
    names
}

/// A frame's source and destination names.
fn who(r: &LabReport, f: &Frame) -> (String, String) {
    match ends(f) {
        Some(((sip, sport), (dip, dport))) => (r.name_of(sip, sport), r.name_of(dip, dport)),
        None => ("?".into(), "?".into()),
    }
}

pub fn ladder(out: &mut (impl Write + ?Sized), r: &LabReport) -> io::Result<()> {
    let where_ = if r.captured { "the frames they caused on the lab's own loopback" } else { "no capture" };
    writeln!(out, "sockit lab {}: each call, and {where_}", r.slide.name())?;
    let cols = columns(r);
    let width = cols.iter().map(String::len).max().unwrap_or(0);
    for p in &r.parties {
        match p.addr.port() {
            0 => writeln!(out, "  {:<width$}  {} (a new port each time)", p.name, p.addr.ip())?,
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
            let (from, to) = who(r, f);
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
            writeln!(out, "{indent}{}: {}", s.socket, sockit::tcp_info::ss_line(&s.tcp))?;
        }
    }
    Ok(())
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
            let (from, to) = who(r, f);
            writeln!(out, "    {}->>{}: {}", id(&from), id(&to), mermaid_text(&label(f, &mut rel)))?;
        }
    }
    Ok(())
}
