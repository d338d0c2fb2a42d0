// Built-in program `text_stats`: counts words and sentences and lists the most frequent keywords.
// Input {program?, text: string, top?: 1..50 (default 10)}.
// Output {word_count, sentence_count, character_count, unique_word_count, top_keywords: [{word, count}]}.
// A word is a maximal run of letters and digits (ASCII, and any BMP character from U+00C0 up outside the
// punctuation and symbol blocks; characters beyond the BMP, mostly emoji, are not letters here), with
// apostrophes inside it ("don't"). A sentence ends at a run of . ! ? … 。！？ after at least one word; words
// after the last terminator make one more. Keywords are lower-cased words of at least 3 characters that
// are not all digits and not in the English stopword list below; ordered by count,
// then by word (UTF-16 code-unit order), so the list is the same on every node.
import { errorJson, inputProblem, integerIn, KIND_STRING, parseInput, quote } from "./lib/json";
import { exit, readStdin, writeStdout } from "./lib/io";

const MAX_TOP: i64 = 50;
const DEFAULT_TOP: i64 = 10;
const MIN_KEYWORD_LENGTH: i32 = 3;

const STOPWORDS: string[] = [
  "a", "about", "above", "after", "again", "against", "all", "also", "am", "an", "and", "any", "are", "aren't",
  "as", "at", "be", "because", "been", "before", "being", "below", "between", "both", "but", "by", "can",
  "can't", "cannot", "could", "couldn't", "did", "didn't", "do", "does", "doesn't", "doing", "don't", "down",
  "during", "each", "even", "few", "for", "from", "further", "had", "hadn't", "has", "hasn't", "have",
  "haven't", "having", "he", "her", "here", "hers", "herself", "him", "himself", "his", "how", "however", "i",
  "if", "in", "into", "is", "isn't", "it", "it's", "its", "itself", "just", "let's", "may", "me", "might",
  "more", "most", "much", "must", "my", "myself", "no", "nor", "not", "now", "of", "off", "on", "once", "one",
  "only", "or", "other", "our", "ours", "ourselves", "out", "over", "own", "same", "shall", "she", "should",
  "shouldn't", "since", "so", "some", "such", "than", "that", "that's", "the", "their", "theirs", "them",
  "themselves", "then", "there", "there's", "these", "they", "they're", "this", "those", "through", "thus",
  "to", "too", "under", "until", "up", "upon", "us", "very", "was", "wasn't", "we", "were", "weren't", "what",
  "when", "where", "which", "while", "who", "whom", "why", "will", "with", "within", "without", "won't",
  "would", "wouldn't", "yet", "you", "your", "yours", "yourself", "yourselves",
];

function isWordUnit(c: i32): bool {
  if ((c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a)) return true;
  if (c < 0xc0 || c == 0xd7 || c == 0xf7) return false;
  // General punctuation, CJK symbols and punctuation, full-width ASCII punctuation are not letters.
  if (c >= 0x2000 && c <= 0x206f) return false;
  if (c >= 0x3000 && c <= 0x303f) return false;
  // Letter-like symbols through dingbats and arrows, and surrogates (mostly emoji outside the BMP).
  if (c >= 0x2100 && c <= 0x2bff) return false;
  if (c >= 0xd800 && c <= 0xdfff) return false;
  if (c >= 0xff01 && c <= 0xff0f) return false;
  if (c >= 0xff1a && c <= 0xff20) return false;
  return true;
}

function isApostrophe(c: i32): bool {
  return c == 0x27 || c == 0x2019;
}

function isTerminator(c: i32): bool {
  return c == 0x2e || c == 0x21 || c == 0x3f || c == 0x2026 || c == 0x3002 || c == 0xff01 || c == 0xff1f;
}

function allDigits(word: string): bool {
  for (let i = 0; i < word.length; i++) {
    const c = word.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
}

class Keyword {
  constructor(public word: string, public count: i32) {}
}

function byCountThenWord(a: Keyword, b: Keyword): i32 {
  if (a.count != b.count) return b.count - a.count;
  return a.word < b.word ? -1 : a.word > b.word ? 1 : 0;
}

function codePoints(text: string): i32 {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    // A low surrogate after a high one is the second half of one character.
    if (c >= 0xdc00 && c <= 0xdfff && i > 0) {
      const before = text.charCodeAt(i - 1);
      if (before >= 0xd800 && before <= 0xdbff) continue;
    }
    n++;
  }
  return n;
}

function invalid(message: string): void {
  writeStdout(errorJson("invalid_input", message));
  exit(2);
}

export function _main(): void {
  const root = parseInput(readStdin(), "text_stats", ["program", "text", "top"]);
  if (root === null) return invalid(inputProblem);
  const field = root.get("text");
  if (field === null || field.kind != KIND_STRING) return invalid("text must be a string");
  let top = DEFAULT_TOP;
  const topField = root.get("top");
  if (topField !== null) {
    top = integerIn(topField, 1, MAX_TOP);
    if (top < 0) return invalid("top must be an integer from 1 to 50");
  }
  const text = field.text;
  const stopwords = new Set<string>();
  for (let i = 0; i < STOPWORDS.length; i++) stopwords.add(STOPWORDS[i]);
  const counts = new Map<string, i32>();
  const distinct = new Set<string>();
  let words = 0;
  let sentences = 0;
  let wordsInSentence = 0;
  let i = 0;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (isWordUnit(c)) {
      const start = i;
      while (
        i < text.length &&
        (isWordUnit(text.charCodeAt(i)) ||
          (isApostrophe(text.charCodeAt(i)) && i + 1 < text.length && isWordUnit(text.charCodeAt(i + 1))))
      ) {
        i++;
      }
      words++;
      wordsInSentence++;
      const word = text.substring(start, i).replaceAll("\u2019", "'").toLowerCase();
      distinct.add(word);
      if (word.length >= MIN_KEYWORD_LENGTH && !allDigits(word) && !stopwords.has(word)) {
        counts.set(word, counts.has(word) ? counts.get(word) + 1 : 1);
      }
      continue;
    }
    if (isTerminator(c) && wordsInSentence > 0) {
      sentences++;
      wordsInSentence = 0;
    }
    i++;
  }
  if (wordsInSentence > 0) sentences++;
  const keywords: Keyword[] = [];
  const keys = counts.keys();
  for (let k = 0; k < keys.length; k++) keywords.push(new Keyword(keys[k], counts.get(keys[k])));
  keywords.sort(byCountThenWord);
  const listed: string[] = [];
  for (let k = 0; k < keywords.length && k < <i32>top; k++) {
    listed.push('{"word":' + quote(keywords[k].word) + ',"count":' + keywords[k].count.toString() + "}");
  }
  writeStdout(
    '{"word_count":' + words.toString() +
      ',"sentence_count":' + sentences.toString() +
      ',"character_count":' + codePoints(text).toString() +
      ',"unique_word_count":' + distinct.size.toString() +
      ',"top_keywords":[' + listed.join(",") + "]}",
  );
  exit(0);
}

_main();
