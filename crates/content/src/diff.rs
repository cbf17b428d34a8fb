//! What changed between two texts, word by word, for the history of the page's words.

/// One run of words in a comparison.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    Same(String),
    Added(String),
    Removed(String),
}

/// Above this many cells the middle of the texts is shown as replaced whole.
const MAX_CELLS: usize = 4_000_000;

/// The word-level changes from `old` to `new` (words are runs without white space; the runs
/// are joined with single spaces).
pub fn words(old: &str, new: &str) -> Vec<Change> {
    let a: Vec<&str> = old.split_whitespace().collect();
    let b: Vec<&str> = new.split_whitespace().collect();
    let prefix = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let suffix = a[prefix..]
        .iter()
        .rev()
        .zip(b[prefix..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let (am, bm) = (&a[prefix..a.len() - suffix], &b[prefix..b.len() - suffix]);
    let mut out: Vec<Change> = Vec::new();
    let mut push = |c: Change| {
        let (word, kind) = match &c {
            Change::Same(w) => (w.clone(), 0),
            Change::Added(w) => (w.clone(), 1),
            Change::Removed(w) => (w.clone(), 2),
        };
        match (out.last_mut(), kind) {
            (Some(Change::Same(s)), 0)
            | (Some(Change::Added(s)), 1)
            | (Some(Change::Removed(s)), 2) => {
                s.push(' ');
                s.push_str(&word);
            }
            _ => out.push(c),
        }
    };
    for w in &a[..prefix] {
        push(Change::Same((*w).to_string()));
    }
    if am.len().saturating_mul(bm.len()) > MAX_CELLS {
        for w in am {
            push(Change::Removed((*w).to_string()));
        }
        for w in bm {
            push(Change::Added((*w).to_string()));
        }
    } else {
        // Longest common subsequence, by lengths of the common tails.
        let (n, m) = (am.len(), bm.len());
        let mut lcs = vec![0u32; (n + 1) * (m + 1)];
        let at = |i: usize, j: usize| i * (m + 1) + j;
        for i in (0..n).rev() {
            for j in (0..m).rev() {
                lcs[at(i, j)] = if am[i] == bm[j] {
                    lcs[at(i + 1, j + 1)] + 1
                } else {
                    lcs[at(i + 1, j)].max(lcs[at(i, j + 1)])
                };
            }
        }
        let (mut i, mut j) = (0, 0);
        while i < n || j < m {
            if i < n && j < m && am[i] == bm[j] {
                push(Change::Same(am[i].to_string()));
                i += 1;
                j += 1;
            } else if i < n && (j == m || lcs[at(i + 1, j)] >= lcs[at(i, j + 1)]) {
                // Removals first, so "old → new" reads in that order.
                push(Change::Removed(am[i].to_string()));
                i += 1;
            } else {
                push(Change::Added(bm[j].to_string()));
                j += 1;
            }
        }
    }
    for w in &a[a.len() - suffix..] {
        push(Change::Same((*w).to_string()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_words_added_and_removed() {
        let d = words(
            "KAP may help some people feel less stuck",
            "KAP can help many people feel less stuck",
        );
        assert_eq!(
            d,
            vec![
                Change::Same("KAP".into()),
                Change::Removed("may".into()),
                Change::Added("can".into()),
                Change::Same("help".into()),
                Change::Removed("some".into()),
                Change::Added("many".into()),
                Change::Same("people feel less stuck".into()),
            ]
        );
        assert_eq!(
            words("same text", "same text"),
            vec![Change::Same("same text".into())]
        );
        assert_eq!(words("", "new"), vec![Change::Added("new".into())]);
    }
}
