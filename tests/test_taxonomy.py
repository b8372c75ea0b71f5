import re
from pathlib import Path

import pytest

from timbral.data.manifest import build_manifest
from timbral.errors import TaxonomyError
from timbral.taxonomy import Taxonomy, available, load_taxonomy

REPO = Path(__file__).resolve().parents[1]
MACRO17_YAML = REPO / "src" / "timbral" / "taxonomy" / "macro17.yaml"

# The 17 classes and their MedleyDB V1 labels, as the reference study grouped them.
V1_CLASSES = {
    "voice": ["female singer", "male rapper", "male singer", "male speaker", "vocalists"],
    "strings": ["cello", "cello section", "erhu", "string section", "viola", "viola section",
                "violin", "violin section"],
    "acoustic guitars": ["acoustic guitar", "lap steel guitar"],
    "electric guitars": ["clean electric guitar", "distorted electric guitar"],
    "folk guitars": ["banjo", "liuqin", "mandolin", "oud", "zhongruan"],
    "harps": ["guzheng", "harp", "yangqin"],
    "bass": ["double bass", "electric bass"],
    "woodwinds": ["alto saxophone", "baritone saxophone", "soprano saxophone", "tenor saxophone",
                  "bamboo flute", "bass clarinet", "bassoon", "clarinet", "clarinet section",
                  "dizi", "flute", "flute section", "oboe", "piccolo"],
    "brass": ["brass section", "french horn", "french horn section", "horn section", "trombone",
              "trombone section", "trumpet", "trumpet section", "tuba"],
    "free reed": ["accordion", "harmonica", "melodica"],
    "piano": ["piano", "tack piano"],
    "electronic keys": ["electric piano", "sampler", "synthesizer"],
    "drums": ["bass drum", "cymbal", "drum machine", "drum set", "kick drum", "snare drum", "toms"],
    "percussion": ["auxiliary percussion", "bongo", "claps", "darbuka", "doumbek", "gong", "gu",
                   "shaker", "tabla", "tambourine"],
    "pitched percussion": ["chimes", "glockenspiel", "timpani", "vibraphone"],
    "electronic fx": ["fx/processed sound", "scratches"],
    "system": ["Main System"],
}


def extension_labels() -> dict[str, str]:
    """label -> class for every label macro17.yaml marks as an extension."""
    tax = load_taxonomy("macro17")
    out = {}
    for line in MACRO17_YAML.read_text().splitlines():
        code, _, comment = line.partition("#")
        if comment.strip().startswith("extension"):
            label = re.split(r"[\[,]", code.strip().rstrip(",]"))[-1].strip()
            out[label] = tax.mapping[label]
    return out


def test_shipped_tables_load():
    assert {"macro17", "fine"} <= set(available())
    tax = load_taxonomy()
    assert tax.name == "macro17"
    assert list(tax.classes) == list(V1_CLASSES)
    for cls, labels in V1_CLASSES.items():
        for label in labels:
            assert tax.to_class(label) == cls, label
    assert tax.ignore == {"Unlabeled", "crowd"}
    assert tax.to_class("Unlabeled") is None


def test_extensions_cover_the_labels_outside_v1():
    ext = extension_labels()
    required = {"electronic organ", "castanet", "high hat", "male screamer", "female speaker",
                "choir", "woodwind section", "snaps", "sitar", "dilruba"}
    assert required <= set(ext)
    v1 = {lab for labels in V1_CLASSES.values() for lab in labels}
    assert not set(ext) & v1
    # every label of the table is either a V1 label or a documented extension
    assert set(load_taxonomy().mapping) == v1 | set(ext)


def test_docs_explain_every_class_and_extension():
    doc = (REPO / "docs" / "taxonomy.md").read_text()
    for cls in V1_CLASSES:
        assert f"### {cls}" in doc, cls
    for label, cls in extension_labels().items():
        line = next((ln for ln in doc.splitlines() if f"**{label}**" in ln), None)
        assert line is not None, f"{label} is not documented"
        assert cls in line or cls in doc, label
    for ignored in ("Unlabeled", "crowd"):
        assert ignored in doc


def test_fine_is_identity():
    base, fine = load_taxonomy("macro17"), load_taxonomy("fine")
    assert fine.name == "fine"
    assert set(fine.classes) == set(base.mapping)
    assert all(fine.to_class(lab) == lab for lab in fine.classes)
    assert fine.ignore == base.ignore


def test_unknown_label_raises():
    with pytest.raises(TaxonomyError, match="kazoo"):
        load_taxonomy().to_class("kazoo")


def test_user_table(tmp_path, fake_medleydb):
    path = tmp_path / "mine.yaml"
    path.write_text(
        "name: mine\n"
        "classes:\n"
        "  sung: [female singer, male singer, vocalists, male rapper]\n"
        "  other: [piano, acoustic guitar, flute, violin, electric bass, drum set, synthesizer,\n"
        "          Main System, scratches, drum machine, sampler, fx/processed sound]\n"
        "ignore: [Unlabeled]\n"
    )
    tax = load_taxonomy(path)
    assert isinstance(tax, Taxonomy) and tax.classes == ("sung", "other")
    assert tax.to_class("vocalists") == "sung"
    manifest = build_manifest(fake_medleydb.root, taxonomy=path, skip_unmapped=True)
    assert manifest.classes == ["sung", "other"]
    assert {c for cs in manifest.rows["classes"] for c in cs} == {"sung", "other"}
    assert manifest.y.shape == (len(manifest.rows), 2)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("classes: [unclosed\n", "malformed YAML"),
        ("name: x\n", "needs a `classes` mapping"),
        ("classes:\n  a: piano\n", "must list fine labels"),
        ("classes:\n  a: [piano]\n  b: [piano]\n", "is in both"),
    ],
)
def test_malformed_table(tmp_path, text, needle):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(TaxonomyError, match=re.escape(needle)) as info:
        load_taxonomy(path)
    assert str(path) in str(info.value)
    assert "\n" not in str(info.value)


def test_unknown_table_name():
    with pytest.raises(TaxonomyError, match="no such taxonomy.*macro17"):
        load_taxonomy("nonexistent17")
