#!/usr/bin/env python3
"""Independent reference for ClipTokenizer: CLIP's byte-level BPE written out plainly in Python
(standard library only), used to produce clip-bpe-cases.json.

It follows OpenAI CLIP's simple_tokenizer.py (bytes_to_unicode alphabet, "</w>" on the last symbol,
lowest-rank merge first, the word pattern) and Hugging Face's CLIPTokenizer in one respect: the special
tokens <|startoftext|> and <|endoftext|> are split out before the pattern runs, as diffusers' tokenizer
does. Python's `re` has no \\p{L}/\\p{N}, so the pattern is a hand scanner over unicodedata categories.
Text clean-up is whitespace collapse + lower() only: the generated texts contain nothing ftfy or html
unescaping would change.

    python3 clip_bpe_reference.py ../../../../shared/golden/tiny-sd/model/tokenizer > clip-bpe-cases.json
"""
import json, random, re, sys, unicodedata

SPECIALS = ('<|startoftext|>', '<|endoftext|>')
CONTRACTIONS = ("'s", "'t", "'re", "'ve", "'m", "'ll", "'d")


def bytes_to_unicode():
    bs = list(range(ord('!'), ord('~') + 1)) + list(range(ord('¡'), ord('¬') + 1)) + list(range(ord('®'), ord('ÿ') + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


def bpe(symbols, ranks):
    word = tuple(symbols[:-1]) + (symbols[-1] + '</w>',)
    while len(word) > 1:
        best = min(zip(word, word[1:]), key=lambda p: ranks.get(p, float('inf')))
        if best not in ranks:
            break
        merged, i = [], 0
        while i < len(word):
            if i < len(word) - 1 and (word[i], word[i + 1]) == best:
                merged.append(word[i] + word[i + 1])
                i += 2
            else:
                merged.append(word[i])
                i += 1
        word = tuple(merged)
    return word


def is_letter(c): return unicodedata.category(c)[0] == 'L'
def is_number(c): return unicodedata.category(c)[0] == 'N'


def words(text):
    """CLIP's pattern 's|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+ (ignore case)."""
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        m = next((k for k in CONTRACTIONS if text[i:i + len(k)].lower() == k), None)
        if m:
            yield text[i:i + len(m)]; i += len(m)
        elif is_letter(c):
            j = i
            while j < n and is_letter(text[j]): j += 1
            yield text[i:j]; i = j
        elif is_number(c):
            yield c; i += 1
        elif c.isspace():
            i += 1
        else:
            j = i
            while j < n and not text[j].isspace() and not is_letter(text[j]) and not is_number(text[j]): j += 1
            yield text[i:j]; i = j


def encode(text, vocab, ranks, b2u):
    text = ' '.join(text.split()).lower()
    ids = []
    for piece in re.split('(' + '|'.join(map(re.escape, SPECIALS)) + ')', text):
        if piece in SPECIALS:
            ids.append(vocab[piece])
            continue
        for w in words(piece):
            ids.extend(vocab[s] for s in bpe([b2u[b] for b in w.encode('utf-8')], ranks))
    return ids


def main(tokenizer_dir):
    vocab = json.load(open(f'{tokenizer_dir}/vocab.json', encoding='utf-8'))
    lines = open(f'{tokenizer_dir}/merges.txt', encoding='utf-8').read().split('\n')[1:]
    ranks = {tuple(l.split()): i for i, l in enumerate(l for l in lines if l)}
    b2u = bytes_to_unicode()
    pool = ['cat', 'Photo', 'of', 'a', 'the', 'dog', 'running', 'Hippo', "McDonald's", "it's", "we've", "I'LL", "don't",
            'café', 'naïve', 'Zürich', '東京', '猫', '🐱', '🚀🚀', '!!', '?!', '...', '#art', '@user', '3.14', '1999', 'x2',
            'e-mail', '(hello)', '"quoted"', 'snake_case', 'CamelCase', 'über', 'ß', 'Ωμέγα', 'привет', '<|endoftext|>',
            '--', '$100', '50%', 'a/b', 'http://x.com', 'antidisestablishmentarianism', 'zxqvj']
    rng = random.Random(7)
    cases = []
    for _ in range(300):
        parts = [rng.choice(pool) for _ in range(rng.randint(1, 12))]
        text = ''.join(p + rng.choice([' ', ' ', '  ', '\t', '', ',', ' - ']) for p in parts)
        cases.append({'text': text, 'ids': encode(text, vocab, ranks, b2u)})
    sys.stdout.write('[\n' + ',\n'.join(json.dumps(c, ensure_ascii=True) for c in cases) + '\n]\n')


if __name__ == '__main__':
    main(sys.argv[1])
