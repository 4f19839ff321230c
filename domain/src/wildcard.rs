//! Wildcard patterns, written once. Three dialects share one matcher:
//!
//! - IAM's, in resource policies: `*` is any run of characters (`/` and `:` included), `?` exactly
//!   one; resources and condition values (`StringLike`, `ArnLike`) compare case-sensitively,
//!   actions case-insensitively ([`Wildcards::IAM`], [`Wildcards::IAM_ACTIONS`]);
//! - ECR's registry scanning filters and `ptc audit`'s allow patterns: `*` alone is a wildcard,
//!   `?` is an ordinary character, case-sensitive ([`Wildcards::STAR`]). ECR's rule that a filter
//!   *without* `*` matches names that contain it stays with the scanning domain.
//!
//! Besides matching a text, two questions about two patterns are answered: whether one covers
//! every text the other matches (an `Allow` that must reach every repository of a prefix, a
//! scanning filter made redundant by a broader one), and whether some text matches both (a
//! `Deny` that reaches any repository of a prefix).
//!
//! Why not a crate: `wildmatch` and `globset` match a text against a pattern but answer neither
//! question about two patterns, and `globset` gives `/` a meaning IAM does not.

/// Which characters are wildcards, and whether letters compare without case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wildcards {
    /// `?` stands for exactly one character (IAM), rather than for itself.
    question_mark: bool,
    ignore_case: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    /// `*`: any run of characters, the empty one included.
    AnyRun,
    /// `?` where it is a wildcard: exactly one character.
    AnyOne,
    Literal(char),
}

impl Wildcards {
    /// IAM resources and `StringLike` / `ArnLike` values: `*` and `?`, case-sensitive.
    pub const IAM: Wildcards = Wildcards {
        question_mark: true,
        ignore_case: false,
    };
    /// IAM action names (`ecr:batch*`): `*` and `?`, case-insensitive.
    pub const IAM_ACTIONS: Wildcards = Wildcards {
        question_mark: true,
        ignore_case: true,
    };
    /// `*` alone, case-sensitive: ECR scanning filters, `ptc audit` allow patterns.
    pub const STAR: Wildcards = Wildcards {
        question_mark: false,
        ignore_case: false,
    };

    fn folded(self, text: &str) -> Vec<char> {
        if self.ignore_case {
            text.to_lowercase().chars().collect()
        } else {
            text.chars().collect()
        }
    }

    fn tokens(self, pattern: &str) -> Vec<Token> {
        self.folded(pattern)
            .into_iter()
            .map(|c| match c {
                '*' => Token::AnyRun,
                '?' if self.question_mark => Token::AnyOne,
                c => Token::Literal(c),
            })
            .collect()
    }

    /// Whether the concrete `text` matches `pattern` (every character of `text` is itself).
    pub fn matches(self, pattern: &str, text: &str) -> bool {
        let pattern = self.tokens(pattern);
        let text = self.folded(text);
        // Greedy, backtracking to the last `*` only: a later `*` can absorb whatever an earlier
        // one would, so no other choice point is needed (linear in practice, quadratic at worst).
        let (mut p, mut t) = (0, 0);
        let mut last_star: Option<(usize, usize)> = None;
        while t < text.len() {
            match pattern.get(p) {
                Some(Token::AnyRun) => {
                    last_star = Some((p, t));
                    p += 1;
                }
                Some(Token::AnyOne) => {
                    p += 1;
                    t += 1;
                }
                Some(Token::Literal(c)) if *c == text[t] => {
                    p += 1;
                    t += 1;
                }
                _ => match last_star {
                    // Let that `*` absorb one more character and try again after it.
                    Some((star, absorbed_until)) => {
                        p = star + 1;
                        t = absorbed_until + 1;
                        last_star = Some((star, absorbed_until + 1));
                    }
                    None => return false,
                },
            }
        }
        pattern[p..].iter().all(|token| *token == Token::AnyRun)
    }

    /// Whether `general` matches every text that `specific` matches. Sound for any two patterns
    /// (a `true` is always right), and exact when `specific` is a literal or a literal followed
    /// by `*` (`…:repository/docker-hub/*`, `docker-hub/*`); for exotic pairs a rare `false`
    /// may be too cautious.
    pub fn covers(self, general: &str, specific: &str) -> bool {
        let general = self.tokens(general);
        let specific = self.tokens(specific);
        let (g_len, s_len) = (general.len(), specific.len());
        // covers[i][j]: general[i..] covers specific[j..]. A wildcard of `specific` can become
        // any text, so only a `*` of `general` may absorb a `*` of it, and only a `*` or a `?`
        // its `?`; a literal meets an equal literal, a `?` or a `*`.
        let mut covers = vec![vec![false; s_len + 1]; g_len + 1];
        covers[g_len][s_len] = true;
        for i in (0..g_len).rev() {
            for j in (0..=s_len).rev() {
                covers[i][j] = match general[i] {
                    // Absorb nothing, or absorb specific[j] (whatever it is) and stay.
                    Token::AnyRun => covers[i + 1][j] || (j < s_len && covers[i][j + 1]),
                    Token::AnyOne => {
                        j < s_len && specific[j] != Token::AnyRun && covers[i + 1][j + 1]
                    }
                    Token::Literal(c) => {
                        j < s_len && specific[j] == Token::Literal(c) && covers[i + 1][j + 1]
                    }
                };
            }
        }
        covers[0][0]
    }

    /// Whether some text matches both patterns.
    pub fn intersects(self, left: &str, right: &str) -> bool {
        let left = self.tokens(left);
        let right = self.tokens(right);
        // both[i][j]: some text matches both left[i..] and right[j..].
        let (l_len, r_len) = (left.len(), right.len());
        let mut both = vec![vec![false; r_len + 1]; l_len + 1];
        for i in (0..=l_len).rev() {
            for j in (0..=r_len).rev() {
                both[i][j] = match (left.get(i), right.get(j)) {
                    (None, None) => true,
                    // A `*` stops here, or absorbs the other side's next token and stays.
                    (Some(Token::AnyRun), _) => both[i + 1][j] || (j < r_len && both[i][j + 1]),
                    (_, Some(Token::AnyRun)) => both[i][j + 1] || (i < l_len && both[i + 1][j]),
                    (Some(a), Some(b)) => {
                        let one_character = match (a, b) {
                            (Token::Literal(a), Token::Literal(b)) => a == b,
                            _ => true,
                        };
                        one_character && both[i + 1][j + 1]
                    }
                    _ => false,
                };
            }
        }
        both[0][0]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::named_cases;

    /// `Wildcards::IAM` (`*`, `?`, case-sensitive).
    const IAM: Wildcards = Wildcards::IAM;
    /// `Wildcards::IAM_ACTIONS` (`*`, `?`, any case).
    const ACTIONS: Wildcards = Wildcards::IAM_ACTIONS;
    /// `Wildcards::STAR` (`*` alone, case-sensitive).
    const STAR: Wildcards = Wildcards::STAR;

    /// `text` matches `pattern` in `dialect`, or not.
    fn check_match(case: &str, dialect: Wildcards, pattern: &str, text: &str, expected: bool) {
        assert_eq!(
            dialect.matches(pattern, text),
            expected,
            "{case}: `{pattern}` against `{text}` in {dialect:?}"
        );
    }

    named_cases! {
        /// Texts match patterns as each dialect writes them: dialect, pattern, text, matches.
        mod texts_match_patterns => check_match;
        // IAM
        action_prefix_any_case(ACTIONS, "ecr:batch*", "ecr:BatchGetImage", true),
        action_question_mark(ACTIONS, "ecr:?atchGetImage", "ecr:BatchGetImage", true),
        action_other_service(ACTIONS, "ecr:*", "sts:AssumeRole", false),
        resource_case_counts(IAM, "arn:aws:ecr:*:repository/Docker/*", "arn:aws:ecr:x:repository/docker/a", false),
        resource_star_crosses_slashes(IAM, "arn:aws:ecr:*:repository/*", "arn:aws:ecr:eu-west-1:1:repository/a/b", true),
        question_mark_is_one_character(IAM, "role/eks-?", "role/eks-ab", false),
        question_mark_is_not_zero_characters(IAM, "a?", "a", false),
        star_and_question_mark(IAM, "a*?c", "abbc", true),
        empty_pattern_empty_text(IAM, "", "", true),
        empty_pattern_some_text(IAM, "", "a", false),
        // ECR scanning filters (`*` alone)
        prefix_wildcard(STAR, "docker-hub/*", "docker-hub/library/nginx", true),
        wildcard_crosses(STAR, "docker-hub*", "docker-hub/library/nginx", true),
        prefix_is_a_path_segment(STAR, "docker-hub/*", "docker-hubby/x", false),
        the_prefix_alone(STAR, "docker-hub/*", "docker-hub", false),
        everything(STAR, "*", "any/name", true),
        inner_wildcard(STAR, "ghcr/*/app", "ghcr/team/x/app", true),
        inner_wildcard_wrong_end(STAR, "ghcr/*/app", "ghcr/team/apps", false),
        exact_with_wildcard(STAR, "app*", "app", true),
        star_dialect_keeps_case(STAR, "Docker*", "docker-hub", false),
        // `ptc audit` allow patterns (`*` alone)
        written_reference(STAR, "nginx:*", "nginx:1.27", true),
        other_registry(STAR, "quay.io/*", "nginx:1.27", false),
        stars_on_both_sides(STAR, "*node-exporter*", "quay.io/prometheus/node-exporter:v1.8.2", true),
        exact_text(STAR, "exact", "exact", true),
        exact_text_is_whole(STAR, "exact", "exactly", false),
        stars_matching_nothing(STAR, "a*b*c", "abc", true),
        stars_keep_the_order(STAR, "a*b*c", "acb", false),
        backtracking_past_a_false_start(STAR, "*ab", "aab", true),
        question_mark_is_itself(STAR, "a?c", "abc", false),
        question_mark_matches_itself(STAR, "a?c", "a?c", true),
    }

    /// `general` covers every text of `specific`, or not.
    fn check_covers(case: &str, dialect: Wildcards, general: &str, specific: &str, expected: bool) {
        assert_eq!(
            dialect.covers(general, specific),
            expected,
            "{case}: does `{general}` cover `{specific}` in {dialect:?}"
        );
    }

    named_cases! {
        /// A pattern covers another only when it matches every text of it: dialect, general,
        /// specific, covers.
        mod patterns_cover_patterns => check_covers;
        // IAM resources against every repository of a prefix
        parent_prefix(IAM, "a/*", "a/b/*", true),
        shorter_literal_prefix(IAM, "a/b*", "a/b/*", true),
        narrower_prefix(IAM, "a/b/c*", "a/b/*", false),
        question_mark_covers_one_literal(IAM, "a/?/*", "a/b/*", true),
        question_mark_does_not_cover_a_run(IAM, "a/?", "a/*", false),
        resource_case_counts(IAM, "A/*", "a/*", false),
        literal_target(IAM, "a/*", "a/b", true),
        literal_target_outside(IAM, "a/*", "b/c", false),
        // ECR scanning filters (each side as written; "contains" stays in the scanning domain)
        same(STAR, "docker-hub/*", "docker-hub/*", true),
        everything(STAR, "*", "docker-hub/*", true),
        shorter_prefix(STAR, "docker*", "docker-hub/*", true),
        nested_parent_prefix(STAR, "ghcr/*", "ghcr/fluxcd/*", true),
        narrower_does_not_cover(STAR, "ghcr/fluxcd/*", "ghcr/*", false),
        sibling(STAR, "quay/*", "docker-hub/*", false),
        exact_name_is_not_a_prefix(STAR, "docker-hub/nginx", "docker-hub/*", false),
        wildcard_in_the_middle(STAR, "docker-*/*", "docker-hub/*", true),
        suffix_wildcard(STAR, "*/nginx", "docker-hub/*", false),
        star_question_mark_is_literal(STAR, "a?*", "ab*", false),
    }

    /// Some text matches both patterns, or none does.
    fn check_intersects(case: &str, dialect: Wildcards, left: &str, right: &str, expected: bool) {
        assert_eq!(
            dialect.intersects(left, right),
            expected,
            "{case}: `{left}` and `{right}` in {dialect:?}"
        );
        assert_eq!(
            dialect.intersects(right, left),
            expected,
            "{case}: `{right}` and `{left}` (swapped) in {dialect:?}"
        );
    }

    named_cases! {
        /// Two patterns meet when some text matches both: dialect, left, right, meet.
        mod patterns_meet => check_intersects;
        narrower_prefix(IAM, "a/b/c*", "a/b/*", true),
        sibling_prefix(IAM, "a/c*", "a/b/*", false),
        suffix_and_prefix(IAM, "*x", "a/*", true),
        question_marks_of_one_length(IAM, "a??", "a?", false),
        question_mark_and_literal(IAM, "a?c", "abc", true),
        literals(IAM, "abc", "abd", false),
        both_empty(IAM, "", "", true),
        star_meets_empty(IAM, "*", "", true),
        case_counts(IAM, "A*", "a*", false),
        actions_ignore_case(ACTIONS, "ECR:Batch*", "ecr:b*", true),
        star_question_mark_is_literal(STAR, "a?", "ab", false),
    }
}
