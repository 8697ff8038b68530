"""A visual question answering task generated in code: PNG images of one coloured shape each,
with a "what colour" question and a yes/no question per image (half of them answered "no"),
written as a JSONL file beside the images — what a user's VQA file looks like."""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image, ImageDraw

COLOURS = {"red": (220, 30, 30), "green": (30, 180, 60), "blue": (40, 60, 220)}
SHAPES = ("square", "circle")


def draw(shape: str, colour: str, size: int = 32) -> Image.Image:
    image = Image.new("RGB", (size, size), "white")
    pen = ImageDraw.Draw(image)
    box = (size // 4, size // 4, 3 * size // 4, 3 * size // 4)
    (pen.rectangle if shape == "square" else pen.ellipse)(box, fill=COLOURS[colour])
    return image


def write_shapes_task(folder: Path, images: int = 24) -> Path:
    """`images` PNGs in `folder/images/` and `folder/shapes.jsonl` with two questions each;
    paths in the file are relative to it."""
    (folder / "images").mkdir(parents=True, exist_ok=True)
    colours = list(COLOURS)
    rows = []
    for i in range(images):
        shape, colour = SHAPES[i % 2], colours[(i // 2) % 3]
        name = f"images/{i:03d}_{colour}_{shape}.png"
        draw(shape, colour).save(folder / name)
        asked = colour if i % 4 < 2 else colours[(colours.index(colour) + 1) % 3]
        rows.append({"image": name, "question": f"What colour is the {shape}?", "answer": colour})
        answer = "yes" if asked == colour else "no"
        rows.append({"image": name, "question": f"Is the {shape} {asked}?", "answer": answer})
    path = folder / "shapes.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path
