//! Long tables to feature arrays: one row per (step, agent) with feature columns — what agent
//! based models record (Mesa's `DataCollector.get_agent_vars_dataframe()`) — pivoted to
//! `X[T, n, d]`.
//!
//! ```text
//! X[t, i, k] = column features[k] of the row with step = steps[t] and agent = agents[i]
//! ```
//!
//! Steps and agents are sorted (as numbers when every one of them is a number, as text
//! otherwise). An agent without a row at some step gets the [`Fill`] value or is refused; a
//! repeated (step, agent) pair, a missing column, a value that is not a finite number are
//! refused naming the line, step, agent and column. The CSV is plain: a header, comma
//! separators, no quoted fields.

use std::collections::HashMap;
use std::path::Path;

use crate::array::Array3;
use crate::error::{Error, Result};

/// What an agent missing at a step gets.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Fill {
    /// This value in every feature (0: the zero baseline).
    Value(f64),
    /// An error naming the step and agent.
    Refuse,
}

/// A pivoted table.
#[derive(Clone, Debug)]
pub struct Pivot {
    /// `[T, n, d]`, float32.
    pub features: Array3,
    /// The steps, in row order of `features`.
    pub steps: Vec<String>,
    /// The agents, in column order.
    pub agents: Vec<String>,
}

/// Pivot the CSV text `csv` (read from `path`, named in errors).
///
/// # Errors
/// [`Error::Table`] naming the file with the line, step, agent or column of the problem.
pub fn pivot_csv(
    csv: &str,
    path: &Path,
    step: &str,
    agent: &str,
    features: &[String],
    fill: Fill,
) -> Result<Pivot> {
    let bad = |reason: String| Error::Table {
        path: path.to_path_buf(),
        reason,
    };
    let mut lines = csv
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let (_, header) = lines.next().ok_or_else(|| bad("no header line".into()))?;
    if header.contains('"') {
        return Err(bad(
            "quoted fields are not supported: use plain comma-separated values".into(),
        ));
    }
    let columns: Vec<&str> = header.split(',').map(str::trim).collect();
    let find = |name: &str| {
        columns.iter().position(|c| *c == name).ok_or_else(|| {
            bad(format!(
                "no column '{name}' (the header has {})",
                columns.join(", ")
            ))
        })
    };
    let (s_col, a_col) = (find(step)?, find(agent)?);
    let f_cols = features
        .iter()
        .map(|f| find(f))
        .collect::<Result<Vec<_>>>()?;
    let mut rows: Vec<(String, String, Vec<f64>)> = Vec::new();
    for (i, line) in lines {
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        if fields.len() != columns.len() || line.contains('"') {
            return Err(bad(format!(
                "line {}: {} fields, the header has {} (quoted fields are not supported)",
                i + 1,
                fields.len(),
                columns.len()
            )));
        }
        let values = (f_cols.iter().zip(features))
            .map(|(&c, name)| match fields[c].parse::<f64>() {
                Ok(v) if v.abs() <= F32_MAX => Ok(v),
                _ => Err(bad(format!(
                    "line {}: {name} is '{}' at step {}, agent {}; expected a finite number \
                     within float32's range (±3.4e38)",
                    i + 1,
                    fields[c],
                    fields[s_col],
                    fields[a_col]
                ))),
            })
            .collect::<Result<Vec<_>>>()?;
        rows.push((fields[s_col].to_string(), fields[a_col].to_string(), values));
    }
    if rows.is_empty() {
        return Err(bad("the table has a header and no rows".into()));
    }
    let steps = sorted_ids(rows.iter().map(|r| r.0.as_str()));
    let agents = sorted_ids(rows.iter().map(|r| r.1.as_str()));
    let index = |ids: &[String]| -> HashMap<String, usize> {
        ids.iter()
            .enumerate()
            .map(|(i, s)| (s.clone(), i))
            .collect()
    };
    let (si, ai) = (index(&steps), index(&agents));
    let (t, n, d) = (steps.len(), agents.len(), features.len());
    let what = format!("{}: the [{t}, {n}, {d}] array", path.display());
    crate::limits::allocation(&what, &[t, n, d + 1], 4)?;
    let mut seen = vec![false; t * n];
    let fill_value = match fill {
        Fill::Value(v) if v.abs() <= F32_MAX => v,
        Fill::Value(v) => {
            return Err(Error::Parameter {
                name: "fill",
                value: format!("{v:e}"),
                reason: "the features are float32: a fill value must be finite and within \
                         ±3.4e38"
                    .into(),
            });
        }
        Fill::Refuse => 0.0,
    };
    let mut x = vec![fill_value as f32; t * n * d];
    for (s, a, values) in &rows {
        let cell = si[s] * n + ai[a];
        if std::mem::replace(&mut seen[cell], true) {
            return Err(bad(format!("step {s}, agent {a} appears more than once")));
        }
        for (k, v) in values.iter().enumerate() {
            x[cell * d + k] = *v as f32;
        }
    }
    if fill == Fill::Refuse
        && let Some(cell) = seen.iter().position(|s| !s)
    {
        return Err(bad(format!(
            "agent {} has no row at step {}",
            agents[cell % n],
            steps[cell / n]
        )));
    }
    Ok(Pivot {
        features: Array3::from_f32([t, n, d], x),
        steps,
        agents,
    })
}

/// The largest float32, as f64: larger values cannot be stored.
const F32_MAX: f64 = f32::MAX as f64;

/// Distinct ids, sorted as numbers if all are numbers, as text otherwise.
fn sorted_ids<'a>(ids: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut v: Vec<String> = ids.map(String::from).collect();
    v.sort();
    v.dedup();
    if v.iter().all(|s| s.parse::<f64>().is_ok()) {
        v.sort_by(|a, b| {
            let (x, y) = (a.parse::<f64>().unwrap(), b.parse::<f64>().unwrap());
            x.total_cmp(&y)
        });
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    const CSV: &str = "Step,AgentID,wealth,opinion\n1,30,130,-30\n1,10,110,-10\n1,20,120,-20\n\
                       2,10,210,-10\n2,20,220,-20\n10,30,1030,-30\n10,10,1010,-10\n10,20,1020,-20\n";

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn pivots_sorting_ids_as_numbers_and_filling_the_gaps() {
        let p = Path::new("t.csv");
        let f = names(&["wealth", "opinion"]);
        let out = pivot_csv(CSV, p, "Step", "AgentID", &f, Fill::Value(0.0)).unwrap();
        assert_eq!(out.steps, names(&["1", "2", "10"]));
        assert_eq!(out.agents, names(&["10", "20", "30"]));
        assert_eq!(out.features.shape(), [3, 3, 2]);
        assert_eq!(
            (out.features.get(0, 2, 0), out.features.get(2, 0, 1)),
            (130.0, -10.0)
        );
        assert_eq!(
            out.features.get(1, 2, 0),
            0.0,
            "agent 30 has no row at step 2"
        );
        let err = pivot_csv(CSV, p, "Step", "AgentID", &f, Fill::Refuse).unwrap_err();
        assert!(
            err.to_string().contains("agent 30 has no row at step 2"),
            "{err}"
        );
        let twice = format!("{CSV}1,30,1,1\n");
        let err = pivot_csv(&twice, p, "Step", "AgentID", &f, Fill::Value(0.0)).unwrap_err();
        assert!(
            err.to_string()
                .contains("step 1, agent 30 appears more than once"),
            "{err}"
        );
        let nan = CSV.replace("220", "nan");
        let err = pivot_csv(&nan, p, "Step", "AgentID", &f, Fill::Value(0.0)).unwrap_err();
        assert!(
            err.to_string()
                .contains("line 6: wealth is 'nan' at step 2, agent 20"),
            "{err}"
        );
        let err = pivot_csv(CSV, p, "Step", "Agent", &f, Fill::Value(0.0)).unwrap_err();
        assert!(err.to_string().contains("no column 'Agent'"), "{err}");
    }
}
