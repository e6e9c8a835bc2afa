//! `GET /api/orgs/{org}/resources/summary?granularity=hourly|daily|weekly|monthly|yearly
//! &lookbackDays=N`: the resources under management in each period of the lookback
//! window (UTC), oldest first: the sum over the organization's stacks of the resources
//! each had at the end of the period (the count its last finished update left, from the
//! checkpoint the CLI wrote). Hourly looks back at most 2 days, as documented.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Extension, Path, Query, State};
use axum::response::{IntoResponse, Response};
use pulumi_auto_types::rest::{ResourceCountSummary, ResourceSummaryResponse};
use serde::Deserialize;
use time::{Date, Duration, OffsetDateTime, Time};

use crate::api::{AppState, Auth, org_of};
use crate::error::{Error, Result};
use crate::store::now;

type Shared = Arc<AppState>;

/// A period's length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Granularity {
    /// An hour.
    Hourly,
    /// A day.
    Daily,
    /// An ISO week (Monday to Sunday).
    Weekly,
    /// A calendar month.
    Monthly,
    /// A calendar year.
    Yearly,
}

/// The query.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SummaryQuery {
    granularity: Option<String>,
    lookback_days: Option<i64>,
}

fn start_of(g: Granularity, t: OffsetDateTime) -> OffsetDateTime {
    let d = t.date();
    let day = |d: Date| d.with_time(Time::MIDNIGHT).assume_utc();
    match g {
        Granularity::Hourly => d
            .with_hms(t.hour(), 0, 0)
            .map(|x| x.assume_utc())
            .unwrap_or(t),
        Granularity::Daily => day(d),
        Granularity::Weekly => {
            day(d - Duration::days(i64::from(d.weekday().number_days_from_monday())))
        }
        Granularity::Monthly => Date::from_calendar_date(d.year(), d.month(), 1)
            .map(day)
            .unwrap_or(t),
        Granularity::Yearly => Date::from_calendar_date(d.year(), time::Month::January, 1)
            .map(day)
            .unwrap_or(t),
    }
}

fn next_start(g: Granularity, s: OffsetDateTime) -> OffsetDateTime {
    match g {
        Granularity::Hourly => s + Duration::hours(1),
        Granularity::Daily => s + Duration::days(1),
        Granularity::Weekly => s + Duration::weeks(1),
        Granularity::Monthly => {
            let d = s.date();
            let (y, m) = if d.month() == time::Month::December {
                (d.year() + 1, time::Month::January)
            } else {
                (d.year(), d.month().next())
            };
            Date::from_calendar_date(y, m, 1)
                .map(|x| x.with_time(Time::MIDNIGHT).assume_utc())
                .unwrap_or(s + Duration::days(31))
        }
        Granularity::Yearly => Date::from_calendar_date(s.year() + 1, time::Month::January, 1)
            .map(|x| x.with_time(Time::MIDNIGHT).assume_utc())
            .unwrap_or(s + Duration::days(366)),
    }
}

/// The periods of the window ending at `now`, and the resources in each: `history` is
/// `(stack, time, resources)` oldest first.
pub fn summarize(
    g: Granularity,
    lookback_days: i64,
    now: i64,
    history: &[(String, i64, i64)],
) -> Vec<ResourceCountSummary> {
    let Ok(end) = OffsetDateTime::from_unix_timestamp(now) else {
        return Vec::new();
    };
    let from = end - Duration::days(lookback_days);
    let mut out = Vec::new();
    let mut period = start_of(g, from);
    let mut current: HashMap<&str, i64> = HashMap::new();
    let mut i = 0;
    while period <= end && out.len() < 100_000 {
        let next = next_start(g, period);
        let cutoff = next.unix_timestamp();
        while i < history.len() && history[i].1 < cutoff {
            current.insert(history[i].0.as_str(), history[i].2);
            i += 1;
        }
        let d = period.date();
        out.push(ResourceCountSummary {
            year: d.year(),
            month: (g != Granularity::Yearly && g != Granularity::Weekly)
                .then(|| u8::from(d.month()) as u32),
            day: matches!(g, Granularity::Hourly | Granularity::Daily).then(|| u32::from(d.day())),
            week_number: (g == Granularity::Weekly).then(|| u32::from(d.iso_week())),
            hour: (g == Granularity::Hourly).then(|| u32::from(period.hour())),
            resources: current.values().sum(),
        });
        period = next;
    }
    out
}

/// GET /api/orgs/{org}/resources/summary
#[utoipa::path(
    get,
    path = "/api/orgs/{org}/resources/summary",
    tag = "resources",
    params(SummaryQuery),
    responses((status = 200, description = "OK", body = ResourceSummaryResponse)),
)]
pub async fn summary(
    State(state): State<Shared>,
    Extension(auth): Extension<Auth>,
    Path(o): Path<String>,
    Query(q): Query<SummaryQuery>,
) -> Result<Response> {
    let o = org_of(&state, auth.user()?, &o).await?;
    let g = match q.granularity.as_deref().unwrap_or("daily") {
        "hourly" => Granularity::Hourly,
        "daily" => Granularity::Daily,
        "weekly" => Granularity::Weekly,
        "monthly" => Granularity::Monthly,
        "yearly" => Granularity::Yearly,
        _ => {
            return Err(Error::bad_request(
                "Bad Request: granularity must be hourly, daily, weekly, monthly or yearly",
            ));
        }
    };
    let max = if g == Granularity::Hourly { 2 } else { 3660 };
    let lookback = q
        .lookback_days
        .unwrap_or(if g == Granularity::Hourly { 1 } else { 30 });
    if !(1..=max).contains(&lookback) {
        return Err(Error::bad_request(format!(
            "Bad Request: lookbackDays must be 1 to {max} for this granularity"
        )));
    }
    let history = state.store.resource_history(&o).await?;
    Ok(Json(ResourceSummaryResponse {
        summary: summarize(g, lookback, now(), &history),
    })
    .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_follow_each_stack_to_the_end_of_each_period() {
        // 2024-01-10 12:00 UTC.
        let now = 1_704_888_000;
        let h = vec![
            ("a".to_owned(), now - 3 * 86_400, 4),
            ("b".to_owned(), now - 2 * 86_400, 2),
            ("a".to_owned(), now - 86_400, 1),
        ];
        let days = summarize(Granularity::Daily, 4, now, &h);
        let counts: Vec<i64> = days.iter().map(|d| d.resources).collect();
        assert_eq!(counts, [0, 4, 6, 3, 3]);
        assert_eq!(
            (days[4].year, days[4].month, days[4].day),
            (2024, Some(1), Some(10))
        );
        let hours = summarize(Granularity::Hourly, 1, now, &h);
        assert_eq!(hours.len(), 25);
        assert_eq!(hours.last().unwrap().hour, Some(12));
        let weeks = summarize(Granularity::Weekly, 14, now, &h);
        assert_eq!(weeks.last().unwrap().week_number, Some(2));
        assert_eq!(weeks.last().unwrap().resources, 3);
        let months = summarize(Granularity::Monthly, 40, now, &h);
        assert_eq!(
            months.iter().map(|m| m.month.unwrap()).collect::<Vec<_>>(),
            [12, 1]
        );
        assert_eq!(summarize(Granularity::Yearly, 300, now, &h).len(), 2);
    }
}
