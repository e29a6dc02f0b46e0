//! Health bands and the hysteresis that keeps them from flapping.

use crate::config::BandConfig;

/// Green: healthy. Yellow: drifting. Red: leaving.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Band {
    #[default]
    Green = 0,
    Yellow = 1,
    Red = 2,
}

impl Band {
    /// Every band, healthiest first.
    pub const ALL: [Band; 3] = [Band::Green, Band::Yellow, Band::Red];

    /// The wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Band::Green => "green",
            Band::Yellow => "yellow",
            Band::Red => "red",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Band> {
        Band::ALL.into_iter().find(|b| b.as_str() == s)
    }

    /// The band of a score with no history to smooth against.
    pub fn of(score: f64, cfg: &BandConfig) -> Band {
        if score >= cfg.green_min {
            Band::Green
        } else if score >= cfg.yellow_min {
            Band::Yellow
        } else {
            Band::Red
        }
    }

    /// The band after `score`, coming from `self`: a threshold must be
    /// crossed by `hysteresis` points in the direction of travel.
    pub fn next(self, score: f64, cfg: &BandConfig) -> Band {
        let h = cfg.hysteresis;
        let down = Band::of(score + h, cfg);
        let up = Band::of(score - h, cfg);
        if down > self {
            down
        } else if up < self {
            up
        } else {
            self
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hysteresis_holds_near_thresholds() {
        let c = BandConfig {
            green_min: 70.0,
            yellow_min: 40.0,
            hysteresis: 3.0,
        };
        assert_eq!(Band::Green.next(68.0, &c), Band::Green);
        assert_eq!(Band::Green.next(66.9, &c), Band::Yellow);
        assert_eq!(Band::Yellow.next(71.0, &c), Band::Yellow);
        assert_eq!(Band::Yellow.next(73.0, &c), Band::Green);
        assert_eq!(Band::Green.next(10.0, &c), Band::Red);
        assert_eq!(Band::Red.next(42.0, &c), Band::Red);
        assert_eq!(Band::Red.next(90.0, &c), Band::Green);
    }
}
