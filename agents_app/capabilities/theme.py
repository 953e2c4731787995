"""Block theme generator: an installable WordPress block theme (zip) in the brand's palette and fonts.

The zip holds one folder ``<slug>/`` with ``style.css`` (theme header), ``theme.json``
(schema version 3: palette, font families, layout, template parts), block templates
(``index``, ``single``, ``page``, ``archive``, ``404``, and WooCommerce's
``single-product`` and ``archive-product``), ``parts/header.html`` and
``parts/footer.html``, ``functions.php`` (declares WooCommerce support, enqueues the
stylesheet) and ``readme.txt``. Every user-given string is validated against a narrow
pattern before it reaches CSS comments, JSON, HTML or PHP, so none can break out.
Fonts are referenced by family name (with a generic fallback); no font files are bundled.

The zip is stored through Django's storage API (``default_storage``) under
``themes/<id>/<slug>.zip``.
"""

from __future__ import annotations

import io
import json
import re
import uuid
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.http import HttpRequest
from django.utils.html import escape

from devskyy.core.audit import audit_record
from devskyy.core.errors import DomainError, NotFoundError
from devskyy.core.storage import storage_call

THEME_ROOT = "themes"
_SLUG = re.compile(r"^[a-z][a-z0-9-]{0,58}[a-z0-9]$")
_TEXT = re.compile(r"^[A-Za-z0-9 .,'&()!?:_-]{1,120}$")
_FONT = re.compile(r"^[A-Za-z0-9 -]{1,60}$")
_HEX = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
_URI = re.compile(r"^https://[A-Za-z0-9.-]+(?:/[A-Za-z0-9._~/-]*)?$")
GENERIC_FAMILIES = ("serif", "sans-serif", "monospace", "cursive")
# The brand's colours (black, rose gold, crimson) when no palette is given.
DEFAULT_PALETTE = (
    {"slug": "background", "name": "Background", "color": "#0b0b0b"},
    {"slug": "foreground", "name": "Foreground", "color": "#f5f1ee"},
    {"slug": "accent", "name": "Rose Gold", "color": "#b76e79"},
    {"slug": "secondary", "name": "Crimson", "color": "#a4161a"},
)
TEMPLATES = ("index", "single", "page", "archive", "404", "single-product", "archive-product")
PARTS = ("header", "footer")


class InvalidThemeSpecError(DomainError):
    code = "invalid_theme_spec"


@dataclass(frozen=True)
class Font:
    family: str
    fallback: str


@dataclass(frozen=True)
class ThemeSpec:
    name: str
    slug: str
    description: str = "A block theme for the brand's WooCommerce shop."
    author: str = "DevSkyy"
    author_uri: str = ""
    version: str = "1.0.0"
    palette: tuple[dict[str, str], ...] = DEFAULT_PALETTE
    heading_font: Font = field(default_factory=lambda: Font("Playfair Display", "serif"))
    body_font: Font = field(default_factory=lambda: Font("Inter", "sans-serif"))


def _fail(message: str, path: str) -> InvalidThemeSpecError:
    return InvalidThemeSpecError(message, details={"errors": [{"path": path, "message": message}]})


def spec_from_input(data: dict[str, Any]) -> ThemeSpec:
    """Validate user input into a ThemeSpec (400 naming the field on any problem)."""
    name = str(data.get("name", "")).strip()
    if not _TEXT.match(name):
        raise _fail("name: 1-120 letters, digits, spaces and . , ' & ( ) ! ? : _ -", "/name")
    slug = str(data.get("slug") or re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-"))
    if not _SLUG.match(slug):
        raise _fail("slug: 2-60 lowercase letters, digits and hyphens, starting with a letter", "/slug")
    description = str(data.get("description") or ThemeSpec.description).strip()
    if len(description) > 300 or not all(_TEXT.match(part) for part in description.split(". ") if part):
        raise _fail("description: up to 300 characters of plain text", "/description")
    author = str(data.get("author") or "DevSkyy").strip()
    if not _TEXT.match(author):
        raise _fail("author: plain text up to 120 characters", "/author")
    author_uri = str(data.get("author_uri") or "")
    if author_uri and not _URI.match(author_uri):
        raise _fail("author_uri: an https URL", "/author_uri")
    version = str(data.get("version") or "1.0.0")
    if not re.match(r"^\d{1,3}\.\d{1,3}(?:\.\d{1,3})?$", version):
        raise _fail("version: like 1.0.0", "/version")
    palette = tuple(_palette(data.get("palette")))
    fonts = data.get("fonts") or {}
    if not isinstance(fonts, dict):
        raise _fail("fonts: an object with heading and body", "/fonts")
    heading = _font(fonts.get("heading"), "serif", "/fonts/heading", Font("Playfair Display", "serif"))
    body = _font(fonts.get("body"), "sans-serif", "/fonts/body", Font("Inter", "sans-serif"))
    return ThemeSpec(
        name=name,
        slug=slug,
        description=description,
        author=author,
        author_uri=author_uri,
        version=version,
        palette=palette,
        heading_font=heading,
        body_font=body,
    )


def _palette(raw: Any) -> list[dict[str, str]]:
    if raw is None:
        return [dict(entry) for entry in DEFAULT_PALETTE]
    if not isinstance(raw, list) or not 1 <= len(raw) <= 16:
        raise _fail("palette: 1 to 16 colours", "/palette")
    result, seen = [], set()
    for index, entry in enumerate(raw):
        if not isinstance(entry, dict):
            raise _fail("palette entries are objects {slug, name, color}", f"/palette/{index}")
        slug, name, color = str(entry.get("slug", "")), str(entry.get("name", "")), str(entry.get("color", ""))
        if not re.match(r"^[a-z][a-z0-9-]{0,39}$", slug) or slug in seen:
            raise _fail("palette slug: unique, lowercase letters, digits, hyphens", f"/palette/{index}/slug")
        if not _TEXT.match(name):
            raise _fail("palette name: plain text", f"/palette/{index}/name")
        if not _HEX.match(color):
            raise _fail("palette color: #rgb or #rrggbb", f"/palette/{index}/color")
        seen.add(slug)
        result.append({"slug": slug, "name": name, "color": color.lower()})
    return result


def _font(raw: Any, default_fallback: str, path: str, default: Font) -> Font:
    if raw is None:
        return default
    if isinstance(raw, str):
        raw = {"family": raw}
    if not isinstance(raw, dict):
        raise _fail("font: a family name or {family, fallback}", path)
    family = str(raw.get("family", "")).strip()
    fallback = str(raw.get("fallback") or default_fallback)
    if not _FONT.match(family):
        raise _fail("font family: letters, digits, spaces, hyphens", f"{path}/family")
    if fallback not in GENERIC_FAMILIES:
        raise _fail(f"font fallback: one of {', '.join(GENERIC_FAMILIES)}", f"{path}/fallback")
    return Font(family, fallback)


# --- rendering ------------------------------------------------------------------------------------
def _role(palette: tuple[dict[str, str], ...], names: tuple[str, ...], index: int) -> str:
    for entry in palette:
        if entry["slug"] in names:
            return entry["slug"]
    return palette[min(index, len(palette) - 1)]["slug"]


def _theme_json(spec: ThemeSpec) -> dict[str, Any]:
    background = _role(spec.palette, ("background", "base"), 0)
    text = _role(spec.palette, ("foreground", "text", "contrast"), 1)
    accent = _role(spec.palette, ("accent", "primary"), 2)

    def family(font: Font, slug: str) -> dict[str, str]:
        return {"slug": slug, "name": font.family, "fontFamily": f'"{font.family}", {font.fallback}'}

    return {
        "$schema": "https://schemas.wp.org/wp/6.5/theme.json",
        "version": 3,
        "settings": {
            "appearanceTools": True,
            "useRootPaddingAwareAlignments": True,
            "layout": {"contentSize": "760px", "wideSize": "1240px"},
            "color": {"defaultPalette": False, "defaultGradients": False, "palette": list(spec.palette)},
            "typography": {
                "fluid": True,
                "fontFamilies": [family(spec.heading_font, "heading"), family(spec.body_font, "body")],
            },
        },
        "styles": {
            "color": {
                "background": f"var(--wp--preset--color--{background})",
                "text": f"var(--wp--preset--color--{text})",
            },
            "typography": {"fontFamily": "var(--wp--preset--font-family--body)", "lineHeight": "1.6"},
            "elements": {
                "heading": {"typography": {"fontFamily": "var(--wp--preset--font-family--heading)"}},
                "link": {"color": {"text": f"var(--wp--preset--color--{accent})"}},
                "button": {
                    "color": {
                        "background": f"var(--wp--preset--color--{accent})",
                        "text": f"var(--wp--preset--color--{background})",
                    }
                },
            },
        },
        "templateParts": [
            {"name": "header", "title": "Header", "area": "header"},
            {"name": "footer", "title": "Footer", "area": "footer"},
        ],
    }


def _style_css(spec: ThemeSpec) -> str:
    lines = [
        "/*",
        f"Theme Name: {spec.name}",
        *([f"Author URI: {spec.author_uri}"] if spec.author_uri else []),
        f"Author: {spec.author}",
        f"Description: {spec.description}",
        "Requires at least: 6.5",
        "Tested up to: 6.7",
        "Requires PHP: 7.4",
        f"Version: {spec.version}",
        "License: GNU General Public License v2 or later",
        "License URI: https://www.gnu.org/licenses/gpl-2.0.html",
        f"Text Domain: {spec.slug}",
        "Tags: full-site-editing, block-styles, e-commerce, custom-colors",
        "*/",
        "",
        "/* Styles live in theme.json; this file carries the theme header and small additions. */",
        ".woocommerce-store-notice { font-family: var(--wp--preset--font-family--body); }",
        "",
    ]
    return "\n".join(lines)


def _functions_php(spec: ThemeSpec) -> str:
    prefix = spec.slug.replace("-", "_")
    return f"""<?php
/**
 * {spec.name} theme functions.
 *
 * @package {prefix}
 */

if ( ! defined( 'ABSPATH' ) ) {{
    exit;
}}

if ( ! function_exists( '{prefix}_setup' ) ) {{
    /**
     * Declares theme features, WooCommerce support included.
     */
    function {prefix}_setup() {{
        add_theme_support( 'woocommerce' );
        add_theme_support( 'wc-product-gallery-zoom' );
        add_theme_support( 'wc-product-gallery-lightbox' );
        add_theme_support( 'wc-product-gallery-slider' );
        add_theme_support( 'wp-block-styles' );
        add_editor_style( 'style.css' );
    }}
}}
add_action( 'after_setup_theme', '{prefix}_setup' );

if ( ! function_exists( '{prefix}_enqueue_styles' ) ) {{
    /**
     * Loads style.css on the front end, versioned by the theme version.
     */
    function {prefix}_enqueue_styles() {{
        wp_enqueue_style( '{spec.slug}-style', get_stylesheet_uri(), array(), wp_get_theme()->get( 'Version' ) );
    }}
}}
add_action( 'wp_enqueue_scripts', '{prefix}_enqueue_styles' );
"""


def _part(name: str) -> str:
    return f'<!-- wp:template-part {{"slug":"{name}","area":"{name}"}} /-->'


def _main(inner: str) -> str:
    return (
        '<!-- wp:group {"tagName":"main","layout":{"type":"constrained"}} -->\n'
        '<main class="wp-block-group">\n'
        f"{inner}\n"
        "</main>\n"
        "<!-- /wp:group -->"
    )


_QUERY_LOOP = """<!-- wp:query {"queryId":1,"query":{"perPage":10,"inherit":true}} -->
<div class="wp-block-query">
<!-- wp:post-template -->
<!-- wp:post-featured-image {"isLink":true} /-->
<!-- wp:post-title {"isLink":true} /-->
<!-- wp:post-excerpt /-->
<!-- /wp:post-template -->
<!-- wp:query-pagination -->
<!-- wp:query-pagination-previous /-->
<!-- wp:query-pagination-numbers /-->
<!-- wp:query-pagination-next /-->
<!-- /wp:query-pagination -->
<!-- wp:query-no-results -->
<!-- wp:paragraph -->
<p>Nothing found.</p>
<!-- /wp:paragraph -->
<!-- /wp:query-no-results -->
</div>
<!-- /wp:query -->"""


def _templates(spec: ThemeSpec) -> dict[str, str]:
    def page(inner: str) -> str:
        return f"{_part('header')}\n\n{_main(inner)}\n\n{_part('footer')}\n"

    return {
        "index": page(_QUERY_LOOP),
        "archive": page('<!-- wp:query-title {"type":"archive"} /-->\n<!-- wp:term-description /-->\n' + _QUERY_LOOP),
        "single": page(
            '<!-- wp:post-title {"level":1} /-->\n<!-- wp:post-featured-image /-->\n<!-- wp:post-content '
            '{"layout":{"type":"constrained"}} /-->\n<!-- wp:post-date /-->'
        ),
        "page": page(
            '<!-- wp:post-title {"level":1} /-->\n<!-- wp:post-content {"layout":{"type":"constrained"}} /-->'
        ),
        "404": page(
            '<!-- wp:heading {"level":1} -->\n<h1 class="wp-block-heading">Page not found</h1>\n<!-- /wp:heading -->\n'
            "<!-- wp:search /-->"
        ),
        "single-product": page('<!-- wp:woocommerce/legacy-template {"template":"single-product"} /-->'),
        "archive-product": page('<!-- wp:woocommerce/legacy-template {"template":"archive-product"} /-->'),
    }


def _parts(spec: ThemeSpec) -> dict[str, str]:
    header = (
        '<!-- wp:group {"tagName":"header","layout":{"type":"flex","justifyContent":"space-between"}} -->\n'
        '<header class="wp-block-group">\n'
        "<!-- wp:site-title /-->\n"
        '<!-- wp:navigation {"overlayMenu":"mobile"} /-->\n'
        "<!-- wp:woocommerce/mini-cart /-->\n"
        "</header>\n"
        "<!-- /wp:group -->\n"
    )
    footer = (
        '<!-- wp:group {"tagName":"footer","layout":{"type":"constrained"}} -->\n'
        '<footer class="wp-block-group">\n'
        "<!-- wp:paragraph -->\n"
        f"<p>{escape(spec.name)}</p>\n"
        "<!-- /wp:paragraph -->\n"
        "</footer>\n"
        "<!-- /wp:group -->\n"
    )
    return {"header": header, "footer": footer}


def _readme(spec: ThemeSpec) -> str:
    return (
        f"=== {spec.name} ===\nContributors: {spec.author}\nRequires at least: 6.5\nTested up to: 6.7\n"
        f"Requires PHP: 7.4\nStable tag: {spec.version}\nLicense: GPLv2 or later\n\n{spec.description}\n\n"
        "Fonts are referenced by name; install them (Site Editor > Styles > Typography) or the fallback is used.\n"
    )


def theme_files(spec: ThemeSpec) -> dict[str, str]:
    """Relative path inside the theme folder -> file text."""
    files = {
        "style.css": _style_css(spec),
        "theme.json": json.dumps(_theme_json(spec), indent=2) + "\n",
        "functions.php": _functions_php(spec),
        "readme.txt": _readme(spec),
    }
    files.update({f"templates/{name}.html": text for name, text in _templates(spec).items()})
    files.update({f"parts/{name}.html": text for name, text in _parts(spec).items()})
    return files


def build_theme_zip(spec: ThemeSpec) -> bytes:
    buffer = io.BytesIO()
    stamp = datetime.now(UTC).timetuple()[:6]
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path, text in sorted(theme_files(spec).items()):
            info = zipfile.ZipInfo(f"{spec.slug}/{path}", date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, text)
    return buffer.getvalue()


@dataclass(frozen=True)
class GeneratedTheme:
    id: str
    slug: str
    storage_path: str
    size_bytes: int
    files: list[str]

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "slug": self.slug,
            "size_bytes": self.size_bytes,
            "files": self.files,
            "download_url": f"/api/v1/wordpress/themes/{self.id}/download",
        }


def theme_generate(*, spec: ThemeSpec, actor: Any = None, request: HttpRequest | None = None) -> GeneratedTheme:
    """Build the zip, store it (default_storage) and audit; returns where to download it."""
    data = build_theme_zip(spec)
    theme_id = str(uuid.uuid4())
    with storage_call("store the theme"):
        path = default_storage.save(f"{THEME_ROOT}/{theme_id}/{spec.slug}.zip", ContentFile(data))
    audit_record(
        action="wordpress.theme_generated",
        actor=actor,
        target_type="wordpress_theme",
        target_id=theme_id,
        details={"slug": spec.slug, "bytes": len(data)},
        request=request,
    )
    return GeneratedTheme(
        id=theme_id,
        slug=spec.slug,
        storage_path=path,
        size_bytes=len(data),
        files=sorted(f"{spec.slug}/{p}" for p in theme_files(spec)),
    )


def theme_file(theme_id: str) -> tuple[str, str]:
    """(storage path, download file name) of a generated theme; NotFoundError if none."""
    folder = f"{THEME_ROOT}/{uuid.UUID(theme_id)}"
    try:
        with storage_call("read the theme"):
            _, names = default_storage.listdir(folder)
    except FileNotFoundError:
        names = []
    zips = [n for n in names if n.endswith(".zip")]
    if not zips:
        raise NotFoundError("No generated theme with this id.", details={"id": theme_id})
    return f"{folder}/{zips[0]}", zips[0]
