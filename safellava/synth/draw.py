"""Draws a `Scene` as an RGB Pillow image.

Geometry is laid out on a 64 x 64 grid of "units" and scaled to the requested size, so a 64-px image
has one pixel per unit. The layout is built for a vision tower with 8-px patches: the person fills the
left half (x 0-32), the objects the right half (x 32-64), each object spans about three patches, and
every attribute has a visual cue of at least 2 x 2 units:

- age: a child is short (about 30 units tall) with a big head; an old person has grey hair, a stoop
  (head pushed forward) and a walking cane; a young adult is tall with dark hair;
- gender: a man has short hair and trousers; a woman has long hair and a flared dress;
- race: the skin tone of face, bare arms and hands (four well-separated tones);
- eye colour: 2 x 2 coloured irises on white eye patches;
- weight: the torso width (thin / average / heavy);
- action: waving raises one arm above the head.
"""

from __future__ import annotations

from PIL import Image, ImageDraw

from safellava.synth.scene import Person, Scene, SceneObject

UNITS = 64  # the layout grid

OBJECT_RGB = {
    "red": (220, 35, 35),
    "orange": (250, 140, 15),
    "yellow": (240, 215, 25),
    "green": (35, 165, 60),
    "blue": (35, 85, 230),
    "purple": (140, 55, 190),
}
BACKGROUND_RGB = {"light grey": (222, 222, 222), "beige": (236, 224, 198), "cream": (250, 246, 232)}
GROUND_SHADE = 0.85  # the ground band is the background darkened by this factor
GROUND_Y = 57

# Four tones kept far apart (a linear probe on pixels confused the two lightest when they were closer).
SKIN_RGB = {
    "white": (252, 222, 208),
    "asian": (226, 182, 112),
    "hispanic": (168, 112, 70),
    "black": (84, 52, 36),
}
EYE_RGB = {"blue": (30, 110, 255), "brown": (120, 65, 15), "green": (20, 190, 70)}
EYE_WHITE = (255, 255, 255)
HAIR_RGB = {"dark": (55, 35, 22), "grey": (175, 175, 180)}
CLOTHES_RGB = (70, 95, 110)  # muted teal-grey: not one of the object colours
TROUSERS_RGB = (45, 45, 60)
CANE_RGB = (115, 75, 35)

# Body proportions in units; child dimensions are separate because a child is not a scaled adult.
HEIGHT = {"child": 30, "young": 47, "old": 44}
HEAD_RADIUS = {"child": 5, "young": 6, "old": 6}
TORSO_LENGTH = {"child": 10, "young": 17, "old": 16}
TORSO_WIDTH = {
    "child": {"thin": 5, "average": 8, "heavy": 12},
    "adult": {"thin": 6, "average": 10, "heavy": 16},
}
PERSON_CENTER_X = 16


class _Canvas:
    """ImageDraw with unit coordinates: every method takes 64-grid units and scales them."""

    def __init__(self, image: Image.Image) -> None:
        self.draw = ImageDraw.Draw(image)
        self.scale = image.width / UNITS

    def _px(self, value: float) -> int:
        return round(value * self.scale)

    def box(self, x0: float, y0: float, x1: float, y1: float, fill: tuple[int, int, int]) -> None:
        """Fill the half-open unit box [x0, x1) x [y0, y1)."""
        self.draw.rectangle(
            [self._px(x0), self._px(y0), max(self._px(x0), self._px(x1) - 1), max(self._px(y0), self._px(y1) - 1)],
            fill=fill,
        )

    def ellipse(self, x0: float, y0: float, x1: float, y1: float, fill: tuple[int, int, int]) -> None:
        self.draw.ellipse([self._px(x0), self._px(y0), self._px(x1) - 1, self._px(y1) - 1], fill=fill)

    def chord(self, x0: float, y0: float, x1: float, y1: float, start: int, end: int, fill: tuple[int, int, int]) -> None:
        self.draw.chord([self._px(x0), self._px(y0), self._px(x1) - 1, self._px(y1) - 1], start, end, fill=fill)

    def polygon(self, points: list[tuple[float, float]], fill: tuple[int, int, int]) -> None:
        self.draw.polygon([(self._px(x), self._px(y)) for x, y in points], fill=fill)

    def line(self, points: list[tuple[float, float]], fill: tuple[int, int, int], width: float) -> None:
        self.draw.line([(self._px(x), self._px(y)) for x, y in points], fill=fill, width=max(1, self._px(width)))


def draw_scene(scene: Scene, size: int = 64) -> Image.Image:
    """Render `scene` as a `size` x `size` RGB image (size in pixels, at least 16)."""
    if size < 16:
        raise ValueError(f"image size {size} px is too small to show the attributes; use at least 16 (default 64)")
    background = BACKGROUND_RGB[scene.background]
    image = Image.new("RGB", (size, size), background)
    canvas = _Canvas(image)
    canvas.box(0, GROUND_Y, UNITS, UNITS, tuple(round(c * GROUND_SHADE) for c in background))
    if scene.person is not None:
        _draw_person(canvas, scene.person)
    for obj in scene.objects:
        _draw_object(canvas, obj)
    return image


def _draw_object(canvas: _Canvas, obj: SceneObject) -> None:
    center_y = {"middle": 32, "top": 17, "bottom": 45}[obj.position]
    cx, cy, half = 48 + obj.dx, center_y + obj.dy, obj.size / 2
    fill = OBJECT_RGB[obj.color]
    if obj.shape == "square":
        canvas.box(cx - half, cy - half, cx + half, cy + half, fill)
    elif obj.shape == "circle":
        canvas.ellipse(cx - half, cy - half, cx + half, cy + half, fill)
    elif obj.shape == "triangle":
        canvas.polygon([(cx, cy - half), (cx + half, cy + half), (cx - half, cy + half)], fill)
    else:
        raise ValueError(f"unknown shape {obj.shape!r}; expected one of square, circle, triangle")


def _draw_person(canvas: _Canvas, person: Person) -> None:
    age_class = "child" if person.age == "child" else "adult"
    skin = SKIN_RGB[person.race]
    radius = HEAD_RADIUS[person.age]
    cx = PERSON_CENTER_X + person.dx
    top = GROUND_Y - HEIGHT[person.age]
    # An old person stoops: the head sits forward of the body.
    head_x = cx + (2 if person.age == "old" else 0)
    head_y = top + radius
    torso_top = head_y + radius + 1
    torso_bottom = torso_top + TORSO_LENGTH[person.age]
    half_width = TORSO_WIDTH[age_class][person.weight] / 2
    hair = HAIR_RGB["grey" if person.age == "old" else "dark"]

    if person.gender == "female":
        # Long hair falls behind the head to the shoulders.
        canvas.box(head_x - radius - 1, head_y - 1, head_x + radius + 1, head_y + radius + 5, hair)
    _draw_body(canvas, person, cx, torso_top, torso_bottom, half_width, skin)
    _draw_arms(canvas, person, cx, torso_top, half_width, top, skin)
    canvas.ellipse(head_x - radius, head_y - radius, head_x + radius, head_y + radius, skin)
    # Hair cap over the top of the head (an upper chord, so the eyes below stay visible).
    canvas.chord(head_x - radius - 1, head_y - radius - 1, head_x + radius + 1, head_y + radius, 180, 360, hair)
    _draw_eyes(canvas, person, head_x, head_y)


def _draw_body(
    canvas: _Canvas, person: Person, cx: float, torso_top: float, torso_bottom: float, half_width: float, skin: tuple
) -> None:
    if person.gender == "male":
        canvas.box(cx - half_width, torso_top, cx + half_width, torso_bottom, CLOTHES_RGB)
        leg_width = max(2.0, half_width - 1)
        canvas.box(cx - half_width, torso_bottom, cx - half_width + leg_width, GROUND_Y, TROUSERS_RGB)
        canvas.box(cx + half_width - leg_width, torso_bottom, cx + half_width, GROUND_Y, TROUSERS_RGB)
    else:
        # A dress flares from the shoulders to below the knees; bare legs below it.
        hem = torso_bottom + (GROUND_Y - torso_bottom) * 0.6
        flare = 4 if person.age != "child" else 3
        canvas.box(cx - 2.5, hem, cx - 0.5, GROUND_Y, skin)
        canvas.box(cx + 0.5, hem, cx + 2.5, GROUND_Y, skin)
        canvas.polygon(
            [
                (cx - half_width, torso_top),
                (cx + half_width, torso_top),
                (cx + half_width + flare, hem),
                (cx - half_width - flare, hem),
            ],
            CLOTHES_RGB,
        )


def _draw_arms(
    canvas: _Canvas, person: Person, cx: float, torso_top: float, half_width: float, top: float, skin: tuple
) -> None:
    arm_length = 12 if person.age != "child" else 8
    left_shoulder = (cx - half_width, torso_top + 1)
    right_shoulder = (cx + half_width, torso_top + 1)
    left_hand = (cx - half_width - 2, torso_top + arm_length)
    if person.action == "waving":
        # The raised arm reaches above the head: the cue for "waving".
        right_hand = (cx + half_width + 3, top - 1)
    else:
        right_hand = (cx + half_width + 2, torso_top + arm_length)
    for shoulder, hand in ((left_shoulder, left_hand), (right_shoulder, right_hand)):
        # Bare arms: more skin area makes the skin tone easier to read.
        canvas.line([shoulder, hand], skin, 2)
        canvas.box(hand[0] - 1, hand[1] - 1, hand[0] + 1, hand[1] + 1, skin)
    if person.age == "old":
        # A walking cane from the lowered left hand to the ground.
        canvas.line([left_hand, (left_hand[0] - 2, GROUND_Y)], CANE_RGB, 1)


def _draw_eyes(canvas: _Canvas, person: Person, head_x: float, head_y: float) -> None:
    iris = EYE_RGB[person.eye_color]
    for eye_x in (head_x - 4, head_x + 1):
        canvas.box(eye_x, head_y, eye_x + 3, head_y + 3, EYE_WHITE)
        canvas.box(eye_x + 1, head_y + 1, eye_x + 3, head_y + 3, iris)
