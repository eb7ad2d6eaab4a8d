from songforge.engines.embedded.prompt import make_title, parse_prompt
from songforge.music.theory import Key


def test_prompt_genres_and_controls():
    cases = {
        "chill lo-fi hip hop beat for studying": "lofi",
        "aggressive heavy metal": "metal",
        "deep house groove": "house",
        "bossa nova for a cafe": "bossa",
        "epic orchestral trailer": "cinematic",
        "drum and bass": "dnb",
        "string quartet": "quartet",
        "8-bit game music": "chiptune",
        "something for studying": "lofi",
        "glorp zzz": "pop",
    }
    for prompt, key in cases.items():
        assert parse_prompt(prompt).style.key == key, prompt
    b = parse_prompt("slow sad piano in D minor, 128 bpm")
    assert b.key == Key(2, "minor") and b.bpm == 128 and b.tempo_word == "slow" and b.mood == "sad"
    assert ("piano", 0, "keys") in b.instruments
    assert parse_prompt("upbeat pop").tempo_word == "fast"
    assert parse_prompt("wedding").scene == "wedding"
    prompt = "chill lo-fi beat for a rainy night"
    assert make_title(prompt, parse_prompt(prompt)) == "Rainy Night Lo-fi"
