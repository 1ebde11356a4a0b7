"""`dag-factory schema`: where the pipeline JSON schema is and how to hook it into an editor."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from dag_factory.cli.common import display


def schema_command(copy_to: str | None = None) -> int:
    from dag_factory.config.validate import _PACKAGED_SCHEMA, schema_path

    path = schema_path().resolve()
    if copy_to:
        dest_dir = Path(copy_to)
        dest_dir.mkdir(parents=True, exist_ok=True)
        dest = dest_dir / "pipeline.schema.json"
        shutil.copyfile(path, dest)
        print(f"copied the schema to {display(dest)} (commit it; refresh it after upgrading dag-factory)")
        path = dest.resolve()
    rel = Path(os.path.relpath(path, Path("pipelines").resolve())).as_posix()
    packaged = _PACKAGED_SCHEMA.resolve()
    from_cwd = Path(os.path.relpath(path)).as_posix()
    settings_path = f"./{from_cwd}" if not from_cwd.startswith("..") else path.as_posix()
    lines = [
        f"JSON Schema of pipeline files (JSON Schema 2020-12, only draft-07 keywords):\n  {path}",
    ]
    if packaged != path:
        lines.append(f"  (installed with the package: {packaged})")
    lines += [
        "",
        "Per file - VS Code (Red Hat's YAML extension), Neovim/Helix/Zed with yaml-language-server:",
        "  first line of the pipeline file (`dag-factory new` writes it), relative to the file:",
        f"    # yaml-language-server: $schema={rel}",
        "",
        "VS Code, for every pipeline at once - .vscode/settings.json:",
        "  {",
        '    "yaml.schemas": {',
        f'      "{settings_path}": ["pipelines/**/*.yaml", "pipelines/**/*.yml", "!pipelines/**/_*.yaml"]',
        "    }",
        "  }",
        "  (`_defaults.yaml` files are partial pipelines; YAML extensions without `!` exclusions",
        "   flag their missing keys - use the per-file modeline instead.)",
        "",
        "JetBrains IDEs (PyCharm, IntelliJ, DataGrip):",
        "  Settings > Languages & Frameworks > Schemas and DTDs > JSON Schema Mappings > +",
        f"    Schema file or URL: {path}",
        "    Schema version:     JSON Schema version 7 (or 2020-12 where offered)",
        "    + File path pattern: pipelines/*.yaml  (and one per sub-folder pattern you use)",
        "",
        "Keep the schema next to your pipelines in a data repository: dag-factory schema --copy schemas/",
    ]
    print("\n".join(lines))
    return 0
