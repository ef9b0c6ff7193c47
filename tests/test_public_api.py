"""The public namespace: curated, complete, and cheap to import."""

import subprocess
import sys

import facesafe


def test_every_export_resolves_and_presents_as_facesafe():
    for name in facesafe.__all__:
        value = getattr(facesafe, name)
        if isinstance(value, type) and name != "__version__":
            assert value.__module__ == "facesafe", name
    lazy = set(facesafe._LAZY)
    assert lazy <= set(facesafe.__all__), f"loadable but not public: {lazy - set(facesafe.__all__)}"
    assert len(set(facesafe.__all__)) == len(facesafe.__all__), "duplicate names in __all__"


def test_unknown_attribute_is_an_attribute_error():
    try:
        facesafe.no_such_thing  # noqa: B018
    except AttributeError as exc:
        assert "no_such_thing" in str(exc)
    else:
        raise AssertionError("expected AttributeError")


def test_import_loads_no_model_runtime():
    code = (
        "import sys, facesafe, facesafe.cli; "
        "heavy = [m for m in ('cv2', 'onnxruntime', 'mediapipe', 'skimage', 'dlib', 'distributed') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "", f"importing facesafe loaded {out}"


def test_every_public_name_has_a_docstring():
    undocumented = [n for n in facesafe.__all__ if n != "__version__" and callable(getattr(facesafe, n)) and not getattr(facesafe, n).__doc__]
    assert not undocumented, undocumented


def test_api_doc_is_up_to_date():
    import importlib.util
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "scripts" / "make_api_doc.py"
    spec = importlib.util.spec_from_file_location("make_api_doc", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.OUT.read_text() == module.render(), "docs/api.md is stale: run scripts/make_api_doc.py"
    assert module.INIT.read_text() == module.render_init(), "facesafe/__init__.py imports are stale: run scripts/make_api_doc.py"


def test_the_table_is_the_public_surface_and_plumbing_is_private():
    tabled = [name for _, _, names in facesafe._PUBLIC for name in names]
    assert facesafe.__all__ == ["__version__", *tabled]
    for name in ("sniff_format", "output_format", "suffix_for", "parse_color", "Manifest"):
        assert name not in facesafe.__all__ and not hasattr(facesafe, name), name



def test_cli_choices_are_the_catalogues_read_only_when_needed():
    code = (
        "import sys, facesafe.cli as cli; "
        "print(sorted(m for m in ('facesafe._redact', 'facesafe._detect') if m in sys.modules)); "
        "params = {p.name: p for p in cli.anonymize.params}; "
        "print(params['method'].type.choices, params['preset'].type.choices)"
    )
    lines = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.splitlines()
    assert lines[0] == "[]", "importing the CLI loaded a catalogue"
    assert lines[1] == f"{tuple(facesafe.REDACTIONS)} {tuple(facesafe.PRESETS)}"
