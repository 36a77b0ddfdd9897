"""C10: config forms real repositories use — dependencies.python, both
.platform/ and .upsun/, PCRE look-around in `rules` (pure decisions)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from shipway.build.steps import dependency_steps
from shipway.config import load_project
from shipway.config.discover import flavour_of
from shipway.config.regex import compile_rule, re2_problem, rule_problem

# platformsh-templates/wordpress-vanilla's static-file rule (its .platform.app.yaml)
WORDPRESS = r"(?<!\-lock)\.(?i:jpe?g|gif|png|svg|bmp|ico|css|js(?:on)?|eot|ttf|woff|woff2|pdf|docx?|xlsx?|pp[st]x?|psd|odt|key|mp[2-5g]|m4[av]|og[gv]|wav|mov|wm[av]|avi|3g[p2])$"  # noqa: E501


def test_c10_dependencies_python_installs_like_python3() -> None:
    python = dependency_steps({"python": {"pipenv": "2023.2.4"}})
    python3 = dependency_steps({"python3": {"pipenv": "2023.2.4"}})
    assert [s.command for s in python] == [s.command for s in python3]
    assert "pipenv==2023.2.4" in python[0].command


@pytest.mark.parametrize(("upsun", "platform", "prefer", "flavour", "warns"), [
    (True, False, ".upsun", "upsun", False),
    (False, True, ".upsun", "platform", False),
    (False, True, ".platform", "platform", False),
    (True, True, ".upsun", "upsun", True),
    (True, True, ".platform", "platform", True),
])
def test_c10_which_configuration_is_deployed(upsun: bool, platform: bool, prefer: str, flavour: str,
                                             warns: bool) -> None:
    chosen, warning = flavour_of(upsun, platform, prefer)
    assert chosen == flavour and (warning is not None) is warns
    if warning:
        assert "config_dir" in warning and f"deploying {'.upsun' if flavour == 'upsun' else '.platform'}/" \
            in warning


def _both(root: Path) -> Path:
    (root / ".platform").mkdir(parents=True)
    (root / ".platform.app.yaml").write_text("name: legacy\ntype: python:3.11\nweb:\n  commands:\n"
                                             "    start: run\n")
    (root / ".upsun").mkdir()
    (root / ".upsun" / "config.yaml").write_text("applications:\n  modern:\n    type: python:3.11\n"
                                                 "    web:\n      commands:\n        start: run\n")
    return root


def test_c10_repository_with_both_deploys_upsun_with_a_warning(tmp_path: Path) -> None:
    config = load_project(_both(tmp_path))
    assert [a.name for a in config.apps] == ["modern"] and config.flavour == "upsun"
    assert any("both .platform" in str(w) for w in config.warnings)


def test_c10_project_setting_chooses_platform(tmp_path: Path) -> None:
    config = load_project(_both(tmp_path), prefer=".platform")
    assert [a.name for a in config.apps] == ["legacy"] and config.flavour == "platform"


PATHS = ["/a.jpg", "/x-lock.jpg", "/wp-content/uploads/2024/a.JPEG", "/b-lock.png", "/c.txt",
         "/lock.jpg", "/-lockjpg", "/a.json", "/a-lock.json", "/dir-lock/a.png", "/a.lock.jpg", "/"]


@pytest.mark.parametrize("pattern", [
    WORDPRESS, r"^/(?!api)", r"^/static/(?!private/)", r"(?<=/img)/.*\.png$", r"\.css(?=$)",
    r"(?<!/admin)/index\.php$", r"^/(?!wp-admin|wp-login)", r"\.(?i:png)$",
])
def test_c10_rule_compiles_to_re2_matchers_with_the_same_answers(pattern: str) -> None:
    """Python's re (PCRE-like look-around) is the reference for each path."""
    compiled = compile_rule(pattern)
    for path in PATHS + ["/api", "/apix", "/static/private/x", "/static/public/x", "/img/a.png",
                         "/admin/index.php", "/x/index.php", "/wp-admin/", "/wp-login.php", "/s.css"]:
        mine = bool(re.search(compiled.include, path)) and not (
            compiled.exclude is not None and re.search(compiled.exclude, path))
        assert mine == bool(re.search(pattern, path)), (pattern, path, compiled)
    for part in (compiled.include, compiled.exclude or ""):
        assert re2_problem(part) is None  # what reaches Caddy has no look-around


def test_c10_wordpress_rule_serves_a_jpg_not_x_lock_jpg() -> None:
    compiled = compile_rule(WORDPRESS)
    assert compiled.exclude is not None
    assert re.search(compiled.include, "/wp-content/uploads/a.jpg")
    assert re.search(compiled.exclude, "/wp-content/uploads/x-lock.jpg")
    assert not re.search(compiled.exclude, "/wp-content/uploads/a.jpg")


@pytest.mark.parametrize(("pattern", "says"), [
    (r"(a)\1", "back-references"),
    (r"(?>a)b", "atomic"),
    (r"a++", "possessive"),
    (r"(?<!x)a*$", "bounded"),  # unbounded after a negative look-behind: not exact
    (r"/x(?!y)", "^-anchored"),
    (r"(?<=a)(?<!b)c", "more than one look-around"),
    (r"(x(?!y))", "inside a group"),
    (r"a(?<=b)c", "start of the pattern"),
    (r"(?=a)b", "end of the pattern"),
    (r"(unclosed", "not a valid regular expression"),
    ("a" * 5000, "longer than"),
])
def test_c10_patterns_that_cannot_be_served_are_refused_with_a_reason(pattern: str, says: str) -> None:
    problem = rule_problem(pattern)
    assert problem is not None and says in problem, problem


@pytest.mark.parametrize("pattern", [r"\(?=x\)", r"[(?=]x", r"\.php$", r"^/a/(b|c)/\d+$"])
def test_c10_escaped_look_around_text_is_plain_re2(pattern: str) -> None:
    assert compile_rule(pattern).include == pattern and compile_rule(pattern).exclude is None


def test_c10_redirects_still_refuse_look_around() -> None:
    assert re2_problem(r"^/(?!keep)") is not None


def test_ci_variable_follows_the_flavour(tmp_path: Path) -> None:
    """Platform.sh sets CI during builds; Upsun's create-react-app demo builds, so Upsun does not."""
    from shipway.build.pipeline import ci_variable
    upsun = load_project(_both(tmp_path)).apps[0]
    platform = load_project(tmp_path, prefer=".platform").apps[0]
    assert ci_variable(upsun) == {} and ci_variable(platform) == {"CI": "true"}
