//! Reading and checking a strategy file.
//!
//! The TOML is parsed once into unchecked config structs (unknown keys are
//! refused), then [`StrategyConfig::check`] turns it into a [`Strategy`] or an
//! error naming the key and its line. Only checked strategies reach the
//! assignment.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use super::contact::ContactRules;
use super::Treatment;
use crate::contract::Channel;

/// Errors in a strategy file.
#[derive(Debug, thiserror::Error)]
pub enum StrategyError {
    /// The file cannot be read.
    #[error("{}: cannot read the strategy: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Not valid TOML, an unknown key, or a value of the wrong type.
    #[error("{}: {message}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message (it names the line).
        message: String,
    },
    /// A value that the strategy cannot use.
    #[error("{}, line {line}: `{key}`: {message}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// 1-based line of the offending value.
        line: usize,
        /// The key.
        key: String,
        /// What is wrong.
        message: String,
    },
}

/// One DPD bucket as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BucketConfig {
    /// Bucket name, used as a matrix key and in outputs.
    pub name: String,
    /// Lowest DPD in the bucket (default 0 for the first bucket).
    pub min_dpd: Option<i64>,
    /// Highest DPD in the bucket; absent for the last bucket (open-ended).
    pub max_dpd: Option<i64>,
}

/// A treatment's channels as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TreatmentConfig {
    /// Channels, the first being the one assigned.
    pub channels: Spanned<Vec<Spanned<String>>>,
}

/// Preventive reminders as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreventiveConfig {
    /// Remind borrowers at dpd 0 with an installment due within this many days.
    pub days_before_due: Spanned<i64>,
    /// The reminder's channel.
    pub channel: Spanned<String>,
}

/// Human review as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HumanReviewConfig {
    /// Decisions with one of these channels need a person to confirm them.
    pub channels: Spanned<Vec<Spanned<String>>>,
}

/// Contact limits as written: a rule pack, and/or numbers that override it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContactLimitsConfig {
    /// A named rule pack: `cn` or `us`.
    pub pack: Option<Spanned<String>>,
    /// First hour contacts are allowed.
    pub window_start_hour: Option<u8>,
    /// Hour from which contacts are no longer allowed.
    pub window_end_hour: Option<u8>,
    /// Most call attempts per day.
    pub max_calls_per_day: Option<u32>,
    /// Most conversations per day.
    pub max_conversations_per_day: Option<u32>,
    /// Most call attempts in 7 consecutive days.
    pub max_calls_per_7_days: Option<u32>,
    /// Days without calls after a conversation, counting its own day.
    pub quiet_days_after_conversation: Option<u32>,
}

/// The challenger arm as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChallengerConfig {
    /// Share of borrowers in the challenger arm, in [0, 1].
    pub share: Spanned<f64>,
    /// Salt of the arm hash: keep it to keep arms stable from night to night.
    pub salt: Spanned<String>,
    /// The challenger's matrix, shaped like `matrix`.
    pub matrix: Spanned<BTreeMap<String, Spanned<Vec<Spanned<String>>>>>,
}

/// Daily capacity as written: the most borrowers a treatment may take.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CapacityConfig {
    /// Capacity of standard (calls).
    pub standard: Option<u64>,
    /// Capacity of escalated (visits, letters).
    pub escalated: Option<u64>,
}

/// A strategy file as written (unchecked).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StrategyConfig {
    /// Strategy version, written into every output row.
    pub version: Spanned<String>,
    /// DPD buckets, contiguous from 0, the last open-ended.
    pub buckets: Spanned<Vec<Spanned<BucketConfig>>>,
    /// Risk bands, best first (the model's band names).
    pub bands: Spanned<Vec<Spanned<String>>>,
    /// Instead of the model's bands: lower bounds of p_repay for each band but
    /// the last, strictly decreasing within (0, 1), so the bands cover [0, 1].
    pub band_cutoffs: Option<Spanned<Vec<f64>>>,
    /// Channels of each treatment.
    pub treatments: Spanned<BTreeMap<String, Spanned<TreatmentConfig>>>,
    /// For each bucket, the treatment of each band (in band order).
    pub matrix: Spanned<BTreeMap<String, Spanned<Vec<Spanned<String>>>>>,
    /// Preventive reminders (optional).
    pub preventive: Option<Spanned<PreventiveConfig>>,
    /// Human review (optional).
    pub human_review: Option<Spanned<HumanReviewConfig>>,
    /// Contact-frequency limits (optional).
    pub contact_limits: Option<Spanned<ContactLimitsConfig>>,
    /// A challenger matrix for a share of borrowers (optional).
    pub challenger: Option<Spanned<ChallengerConfig>>,
    /// Daily capacity per treatment (optional).
    pub capacity: Option<CapacityConfig>,
}

/// The checked challenger arm.
#[derive(Debug, Clone, PartialEq)]
pub struct Challenger {
    /// Share of borrowers, in [0, 1].
    pub share: f64,
    /// Hash salt.
    pub salt: String,
    /// `matrix[bucket][band]`.
    pub matrix: Vec<Vec<Treatment>>,
}

/// A checked DPD bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bucket {
    /// Name.
    pub name: String,
    /// Lowest DPD.
    pub min_dpd: i64,
    /// Highest DPD (None: no limit).
    pub max_dpd: Option<i64>,
}

/// Preventive reminders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Preventive {
    /// Days before the due date.
    pub days_before_due: i32,
    /// Channel.
    pub channel: Channel,
}

/// A checked strategy: only this reaches the assignment.
#[derive(Debug, Clone, PartialEq)]
pub struct Strategy {
    /// Version.
    pub version: String,
    /// Buckets, ascending, contiguous from DPD 0.
    pub buckets: Vec<Bucket>,
    /// Bands, best first.
    pub bands: Vec<String>,
    /// p_repay lower bounds of the bands but the last (None: the model's bands).
    pub band_cutoffs: Option<Vec<f64>>,
    /// `matrix[bucket][band]`.
    pub matrix: Vec<Vec<Treatment>>,
    /// Channels of each treatment, by [`Treatment::index`].
    pub channels: [Vec<Channel>; 3],
    /// Preventive reminders.
    pub preventive: Option<Preventive>,
    /// Channels whose decisions need human review.
    pub human_review: Vec<Channel>,
    /// Contact-frequency limits.
    pub contact_rules: Option<ContactRules>,
    /// The challenger arm.
    pub challenger: Option<Challenger>,
    /// Daily capacity by [`Treatment::index`] (soft is never capped).
    pub capacity: [Option<u64>; 3],
}

impl Strategy {
    /// Reads and checks a strategy file.
    pub fn load(path: &Path) -> Result<Self, StrategyError> {
        let text = std::fs::read_to_string(path).map_err(|source| StrategyError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(path, &text)
    }

    /// Parses and checks strategy text read from `path`.
    pub fn parse(path: &Path, text: &str) -> Result<Self, StrategyError> {
        let config: StrategyConfig = toml::from_str(text).map_err(|e| StrategyError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        config.check(path, text)
    }

    /// The band index of a p_repay value under `band_cutoffs` (None without them).
    pub fn band_of_p(&self, p_repay: f64) -> Option<usize> {
        self.band_cutoffs
            .as_ref()
            .map(|c| c.iter().position(|&x| p_repay >= x).unwrap_or(c.len()))
    }

    /// The band index of a borrower: by the strategy's own `band_cutoffs` on
    /// p_repay, or else the position of the model's band among the
    /// strategy's bands (the last band when it is not there; the nightly run
    /// refuses a strategy that lacks one of the model's bands).
    pub fn band_index(&self, p_repay: f64, model_band: &str) -> usize {
        self.band_of_p(p_repay).unwrap_or_else(|| {
            self.bands
                .iter()
                .position(|x| x == model_band)
                .unwrap_or(self.bands.len() - 1)
        })
    }

    /// The bucket index of a DPD value.
    pub fn bucket(&self, dpd: i64) -> usize {
        self.buckets
            .iter()
            .position(|b| dpd >= b.min_dpd && b.max_dpd.is_none_or(|m| dpd <= m))
            // Buckets cover 0..; a negative DPD (never produced) counts as current.
            .unwrap_or(0)
    }
}

impl StrategyConfig {
    /// Checks the configuration; `text` is the file's text, for line numbers.
    pub fn check(self, path: &Path, text: &str) -> Result<Strategy, StrategyError> {
        let err =
            |span: std::ops::Range<usize>, key: &str, message: String| StrategyError::Invalid {
                path: path.to_path_buf(),
                line: text[..span.start.min(text.len())].matches('\n').count() + 1,
                key: key.to_string(),
                message,
            };
        let channel = |s: &Spanned<String>, key: &str| {
            Channel::parse(s.get_ref()).ok_or_else(|| {
                err(
                    s.span(),
                    key,
                    format!(
                        "unknown channel {:?} (sms, call, visit, letter, email, app)",
                        s.get_ref()
                    ),
                )
            })
        };
        if self.version.get_ref().trim().is_empty() {
            return Err(err(
                self.version.span(),
                "version",
                "must not be empty".into(),
            ));
        }

        // Buckets: contiguous from 0, no overlap or gap, the last open-ended.
        let mut buckets: Vec<Bucket> = Vec::new();
        let list = self.buckets.get_ref();
        if list.is_empty() {
            return Err(err(
                self.buckets.span(),
                "buckets",
                "at least one bucket is needed".into(),
            ));
        }
        for (i, b) in list.iter().enumerate() {
            let c = b.get_ref();
            let key = format!("buckets[{i}] ({})", c.name);
            let expected = buckets
                .last()
                .map_or(Some(0), |p: &Bucket| p.max_dpd.map(|m| m + 1));
            let Some(expected) = expected else {
                return Err(err(
                    b.span(),
                    &key,
                    "follows an open-ended bucket; only the last bucket may omit max_dpd".into(),
                ));
            };
            let min = c.min_dpd.unwrap_or(expected);
            if min != expected {
                let what = if min < expected {
                    "overlaps the previous bucket"
                } else {
                    "leaves a gap after the previous bucket"
                };
                return Err(err(
                    b.span(),
                    &key,
                    format!("min_dpd {min} {what}: expected {expected}"),
                ));
            }
            if let Some(max) = c.max_dpd {
                if max < min {
                    return Err(err(
                        b.span(),
                        &key,
                        format!("max_dpd {max} is below min_dpd {min}"),
                    ));
                }
            }
            if buckets.iter().any(|p| p.name == c.name) {
                return Err(err(b.span(), &key, "duplicate bucket name".into()));
            }
            buckets.push(Bucket {
                name: c.name.clone(),
                min_dpd: min,
                max_dpd: c.max_dpd,
            });
        }
        if let (Some(last), Some(b)) = (buckets.last(), list.last()) {
            if last.max_dpd.is_some() {
                return Err(err(
                    b.span(),
                    "buckets",
                    format!(
                        "the last bucket ({}) must omit max_dpd so that every DPD has a bucket",
                        last.name
                    ),
                ));
            }
        }

        let mut bands: Vec<String> = Vec::new();
        for b in self.bands.get_ref() {
            if bands.contains(b.get_ref()) || b.get_ref().is_empty() {
                return Err(err(
                    b.span(),
                    "bands",
                    format!("band {:?} is empty or repeated", b.get_ref()),
                ));
            }
            bands.push(b.get_ref().clone());
        }
        if bands.is_empty() {
            return Err(err(
                self.bands.span(),
                "bands",
                "at least one band is needed".into(),
            ));
        }

        let band_cutoffs = match &self.band_cutoffs {
            None => None,
            Some(c) => {
                let v = c.get_ref();
                let ok = v.len() + 1 == bands.len()
                    && v.iter().all(|x| x.is_finite() && *x > 0.0 && *x < 1.0)
                    && v.windows(2).all(|w| w[0] > w[1]);
                if !ok {
                    return Err(err(
                        c.span(),
                        "band_cutoffs",
                        format!(
                            "needs {} strictly decreasing p_repay bounds in (0, 1), one per band but the last, so that the bands cover [0, 1]; got {v:?}",
                            bands.len() - 1
                        ),
                    ));
                }
                Some(v.clone())
            }
        };
        let mut channels: [Vec<Channel>; 3] = Default::default();
        for (name, t) in self.treatments.get_ref() {
            let key = format!("treatments.{name}");
            let Some(tr) = Treatment::parse(name) else {
                return Err(err(
                    t.span(),
                    &key,
                    "unknown treatment (soft, standard, escalated)".into(),
                ));
            };
            let list = &t.get_ref().channels;
            if list.get_ref().is_empty() {
                return Err(err(list.span(), &key, "needs at least one channel".into()));
            }
            for c in list.get_ref() {
                channels[tr.index()].push(channel(c, &format!("{key}.channels"))?);
            }
        }
        for tr in Treatment::ALL {
            if channels[tr.index()].is_empty() {
                return Err(err(
                    self.treatments.span(),
                    "treatments",
                    format!("treatment `{}` is not defined", tr.as_str()),
                ));
            }
        }

        type Rows = Spanned<BTreeMap<String, Spanned<Vec<Spanned<String>>>>>;
        let parse_matrix =
            |rows: &Rows, prefix: &str| -> Result<Vec<Vec<Treatment>>, StrategyError> {
                for (name, row) in rows.get_ref() {
                    if !buckets.iter().any(|b| &b.name == name) {
                        return Err(err(
                            row.span(),
                            &format!("{prefix}.{name}"),
                            "not a bucket name".into(),
                        ));
                    }
                }
                let mut matrix = Vec::with_capacity(buckets.len());
                for b in &buckets {
                    let key = format!("{prefix}.{}", b.name);
                    let Some(row) = rows.get_ref().get(&b.name) else {
                        return Err(err(
                            rows.span(),
                            &key,
                            "missing: every bucket needs a row".into(),
                        ));
                    };
                    if row.get_ref().len() != bands.len() {
                        return Err(err(
                            row.span(),
                            &key,
                            format!(
                                "has {} treatments for {} bands",
                                row.get_ref().len(),
                                bands.len()
                            ),
                        ));
                    }
                    let mut out = Vec::with_capacity(bands.len());
                    for t in row.get_ref() {
                        out.push(Treatment::parse(t.get_ref()).ok_or_else(|| {
                            err(
                                t.span(),
                                &key,
                                format!("unknown treatment {:?}", t.get_ref()),
                            )
                        })?);
                    }
                    matrix.push(out);
                }
                Ok(matrix)
            };
        let matrix = parse_matrix(&self.matrix, "matrix")?;
        let challenger = match &self.challenger {
            None => None,
            Some(c) => {
                let c = c.get_ref();
                let share = *c.share.get_ref();
                if !(0.0..=1.0).contains(&share) {
                    return Err(err(
                        c.share.span(),
                        "challenger.share",
                        format!("must be in [0, 1], got {share}"),
                    ));
                }
                Some(Challenger {
                    share,
                    salt: c.salt.get_ref().clone(),
                    matrix: parse_matrix(&c.matrix, "challenger.matrix")?,
                })
            }
        };
        let capacity = match &self.capacity {
            None => [None; 3],
            Some(c) => [None, c.standard, c.escalated],
        };

        let preventive = match &self.preventive {
            None => None,
            Some(p) => {
                let p = p.get_ref();
                let days = *p.days_before_due.get_ref();
                if !(0..=60).contains(&days) {
                    return Err(err(
                        p.days_before_due.span(),
                        "preventive.days_before_due",
                        format!("must be 0 to 60, got {days}"),
                    ));
                }
                Some(Preventive {
                    days_before_due: days as i32,
                    channel: channel(&p.channel, "preventive.channel")?,
                })
            }
        };
        let human_review = match &self.human_review {
            None => Vec::new(),
            Some(h) => h
                .get_ref()
                .channels
                .get_ref()
                .iter()
                .map(|c| channel(c, "human_review.channels"))
                .collect::<Result<_, _>>()?,
        };
        let contact_rules = match &self.contact_limits {
            None => None,
            Some(c) => {
                let cfg = c.get_ref();
                let base = match &cfg.pack {
                    Some(p) => ContactRules::pack(p.get_ref()).ok_or_else(|| {
                        err(
                            p.span(),
                            "contact_limits.pack",
                            format!("unknown rule pack {:?} (cn, us)", p.get_ref()),
                        )
                    })?,
                    None => ContactRules {
                        window_start_hour: 8,
                        window_end_hour: 21,
                        max_calls_per_day: None,
                        max_conversations_per_day: None,
                        max_calls_per_7_days: None,
                        quiet_days_after_conversation: None,
                    },
                };
                let rules = ContactRules {
                    window_start_hour: cfg.window_start_hour.unwrap_or(base.window_start_hour),
                    window_end_hour: cfg.window_end_hour.unwrap_or(base.window_end_hour),
                    max_calls_per_day: cfg.max_calls_per_day.or(base.max_calls_per_day),
                    max_conversations_per_day: cfg
                        .max_conversations_per_day
                        .or(base.max_conversations_per_day),
                    max_calls_per_7_days: cfg.max_calls_per_7_days.or(base.max_calls_per_7_days),
                    quiet_days_after_conversation: cfg
                        .quiet_days_after_conversation
                        .or(base.quiet_days_after_conversation),
                };
                rules
                    .check()
                    .map_err(|m| err(c.span(), "contact_limits", m))?;
                Some(rules)
            }
        };
        Ok(Strategy {
            version: self.version.into_inner(),
            buckets,
            bands,
            band_cutoffs,
            matrix,
            channels,
            preventive,
            human_review,
            contact_rules,
            challenger,
            capacity,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEFAULT: &str = include_str!("../../strategies/default.toml");

    fn parse(text: &str) -> Result<Strategy, StrategyError> {
        Strategy::parse(Path::new("s.toml"), text)
    }

    #[test]
    fn the_default_strategy_parses() {
        let s = parse(DEFAULT).unwrap();
        let names: Vec<&str> = s.buckets.iter().map(|b| b.name.as_str()).collect();
        assert_eq!(names, ["current", "1-29", "30-59", "60-89", "90+"]);
        assert_eq!(s.bands, ["A", "B", "C", "D", "E"]);
        assert_eq!(
            (
                s.bucket(0),
                s.bucket(1),
                s.bucket(29),
                s.bucket(30),
                s.bucket(90),
                s.bucket(5000)
            ),
            (0, 1, 1, 2, 4, 4)
        );
        // 90+ is escalated for every band; current is soft for the best band.
        assert!(s.matrix[4].iter().all(|&t| t == Treatment::Escalated));
        assert_eq!(s.matrix[0][0], Treatment::Soft);
        assert_eq!(
            s.preventive,
            Some(Preventive {
                days_before_due: 3,
                channel: Channel::Sms
            })
        );
        assert_eq!(s.human_review, vec![Channel::Letter]);
    }

    /// Replaces `from` by `to` in the default file and expects an error
    /// mentioning every one of `needles`.
    fn rejects(from: &str, to: &str, needles: &[&str]) {
        assert!(
            DEFAULT.contains(from),
            "{from:?} is not in the default strategy"
        );
        let text = DEFAULT.replacen(from, to, 1);
        let e = parse(&text)
            .expect_err(&format!("accepted with {to:?}"))
            .to_string();
        for n in needles {
            assert!(e.contains(n), "{n:?} not in: {e}");
        }
    }

    #[test]
    fn rejects_unknown_keys() {
        rejects(
            "[preventive]",
            "[preventive]\ncolour = \"red\"",
            &["unknown field", "colour"],
        );
    }

    #[test]
    fn rejects_overlapping_and_gapped_buckets() {
        rejects(
            "min_dpd = 30",
            "min_dpd = 29",
            &["s.toml, line", "30-59", "overlaps"],
        );
        rejects("min_dpd = 30", "min_dpd = 31", &["30-59", "gap"]);
        rejects(
            "min_dpd = 90\n",
            "min_dpd = 90\nmax_dpd = 365\n",
            &["must omit max_dpd"],
        );
    }

    #[test]
    fn rejects_unknown_treatments_and_channels() {
        rejects(
            "\"90+\" = [\"escalated\"",
            "\"90+\" = [\"arrest\"",
            &["matrix.90+", "unknown treatment \"arrest\""],
        );
        rejects(
            "channels = [\"call\"]",
            "channels = [\"carrier pigeon\"]",
            &["treatments.standard.channels", "unknown channel"],
        );
        rejects(
            "[treatments.escalated]",
            "[treatments.extreme]",
            &["treatments.extreme", "unknown treatment"],
        );
    }

    #[test]
    fn rejects_matrix_shape_errors() {
        rejects(
            "\"60-89\" = [",
            "\"61-89\" = [",
            &["matrix.61-89", "not a bucket name"],
        );
        rejects(
            "bands = [\"A\", \"B\", \"C\", \"D\", \"E\"]",
            "bands = [\"A\", \"B\", \"C\", \"D\"]",
            &["has 5 treatments for 4 bands"],
        );
        rejects(
            "bands = [\"A\", \"B\"",
            "bands = [\"A\", \"A\"",
            &["bands", "repeated"],
        );
    }

    #[test]
    fn messages_name_file_line_and_key() {
        let text = DEFAULT.replacen("days_before_due = 3", "days_before_due = -1", 1);
        let line = text
            .lines()
            .position(|l| l.contains("days_before_due = -1"))
            .unwrap()
            + 1;
        let e = parse(&text).unwrap_err().to_string();
        assert_eq!(
            e,
            format!("s.toml, line {line}: `preventive.days_before_due`: must be 0 to 60, got -1")
        );
    }

    #[test]
    fn contact_limits_take_a_pack_and_overrides() {
        let s = parse(DEFAULT).unwrap();
        assert_eq!(s.contact_rules, ContactRules::pack("cn"));
        let s = parse(&DEFAULT.replacen("pack = \"cn\"", "pack = \"us\"\nwindow_end_hour = 20", 1))
            .unwrap();
        let r = s.contact_rules.unwrap();
        assert_eq!((r.window_end_hour, r.max_calls_per_7_days), (20, Some(7)));
        rejects(
            "pack = \"cn\"",
            "pack = \"mars\"",
            &["contact_limits.pack", "unknown rule pack"],
        );
        rejects(
            "pack = \"cn\"",
            "pack = \"cn\"\nwindow_start_hour = 23",
            &["contact_limits", "window"],
        );
    }

    #[test]
    fn bands_by_p_repay_cutoffs() {
        let s = parse(&DEFAULT.replacen(
            "bands = [\"A\", \"B\", \"C\", \"D\", \"E\"]",
            "bands = [\"A\", \"B\", \"C\", \"D\", \"E\"]\nband_cutoffs = [0.9, 0.75, 0.5, 0.25]",
            1,
        ))
        .unwrap();
        assert_eq!(s.band_of_p(0.95), Some(0));
        assert_eq!(s.band_of_p(0.9), Some(0));
        assert_eq!(s.band_of_p(0.6), Some(2));
        assert_eq!(s.band_of_p(0.0), Some(4));
        assert_eq!(parse(DEFAULT).unwrap().band_of_p(0.5), None);
        for bad in [
            "[0.9, 0.75, 0.5]",
            "[0.9, 0.95, 0.5, 0.25]",
            "[1.0, 0.75, 0.5, 0.25]",
            "[0.9, 0.75, 0.5, 0.0]",
        ] {
            rejects(
                "bands = [\"A\", \"B\", \"C\", \"D\", \"E\"]",
                &format!("bands = [\"A\", \"B\", \"C\", \"D\", \"E\"]\nband_cutoffs = {bad}"),
                &["band_cutoffs", "cover [0, 1]"],
            );
        }
    }

    #[test]
    fn rejects_out_of_range_preventive_days() {
        rejects(
            "days_before_due = 3",
            "days_before_due = 99",
            &["preventive.days_before_due", "0 to 60"],
        );
    }

    #[test]
    fn error_lines_point_at_the_value() {
        let e = parse(&DEFAULT.replacen("min_dpd = 30", "min_dpd = 31", 1)).unwrap_err();
        let StrategyError::Invalid { line, .. } = e else {
            panic!("{e}")
        };
        let text_line = DEFAULT
            .lines()
            .position(|l| l.contains("min_dpd = 30"))
            .unwrap()
            + 1;
        // The bucket's table starts a line or two above its min_dpd.
        assert!(
            line <= text_line && line + 3 >= text_line,
            "{line} vs {text_line}"
        );
    }
}
