"""Image files: every Pillow mode a folder may hold (16-bit, alpha, palette with transparency,
CMYK, ...) is scaled and converted right by ``read_image``."""

import io

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from fastnn.data import BACKGROUND, read_image

LUMA = np.array([0.299, 0.587, 0.114])


def encode(im: Image.Image, fmt: str = "PNG", **kw) -> io.BytesIO:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    buf.seek(0)
    return buf


def png16(a: np.ndarray) -> io.BytesIO:
    return encode(Image.fromarray(a.astype(np.uint16)))


# --- each mode, with numbers worked out by hand --------------------------------------------------


def test_16_bit_png_is_scaled_by_65535_not_clipped():
    a = np.array([[0, 1000], [30000, 65535]], np.uint16)
    gray = read_image(png16(a), (2, 2), "gray")
    np.testing.assert_allclose(gray[0], a / 65535, rtol=1e-6)
    assert gray.max() == 1 and 0.45 < gray[0, 1, 0] < 0.46  # was 1.0 (clipped) before
    rgb = read_image(png16(a), (2, 2), "rgb")
    np.testing.assert_allclose(rgb, np.repeat(a[None] / 65535, 3, 0), rtol=1e-6)
    small = read_image(png16(np.full((8, 8), 30000)), (3, 3), "gray")  # resized in float
    np.testing.assert_allclose(small, 30000 / 65535, rtol=1e-6)


def test_alpha_is_composited_on_white():
    assert BACKGROUND == 1.0
    la = Image.new("LA", (3, 3), (0, 64))  # black at 25% opacity
    expected = (0 * 64 + 255 * (255 - 64)) / 255 / 255
    np.testing.assert_allclose(read_image(encode(la), 3, "gray"), expected, atol=1 / 255)
    np.testing.assert_allclose(read_image(encode(la), 3, "gray", background=0.0), 0)
    rgba = Image.new("RGBA", (3, 3), (255, 0, 0, 0))  # fully transparent red: white
    np.testing.assert_allclose(read_image(encode(rgba), 3, "rgb"), 1.0)


def test_palette_with_transparency():
    p = Image.new("P", (4, 4), 1)
    p.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    p.putpixel((0, 0), 0)  # one red pixel, which is the transparent colour
    x = read_image(encode(p, transparency=0), 4, "rgb")
    np.testing.assert_allclose(x[:, 0, 0], [1, 1, 1])  # transparent: white background
    np.testing.assert_allclose(x[:, 1, 1], [0, 0, 1])  # opaque blue stays blue


def test_cmyk_is_converted_as_one_minus_c_times_one_minus_k():
    cmyk = Image.new("CMYK", (3, 3), (0, 255, 51, 128))
    x = read_image(encode(cmyk, "TIFF"), 3, "rgb")[:, 0, 0]
    k = 1 - 128 / 255
    np.testing.assert_allclose(x, [1 * k, 0, (1 - 51 / 255) * k], atol=1 / 255)


def test_images_fastnn_cannot_scale_are_refused():
    big = Image.fromarray(np.full((2, 2), 70000, np.int32))  # 32-bit integers
    with pytest.raises(ValueError, match=r"values 70000..70000 \(only 8- and 16-bit"):
        read_image(encode(big, "TIFF"), 2)
    hdr = Image.fromarray(np.full((2, 2), 3.5, np.float32))
    with pytest.raises(ValueError, match=r"float image with values outside \[0, 1\]"):
        read_image(encode(hdr, "TIFF"), 2)


# --- property tests: any mode, any size ---------------------------------------------------------

MODES = ["1", "L", "LA", "P", "P+transparency", "RGB", "RGB+transparency", "RGBA", "CMYK",
         "I;16", "I", "F"]


def uniform_image(mode: str, colour: tuple[int, ...], size: tuple[int, int]):
    """A one-colour image in ``mode`` and what it must read as: (rgb in [0, 1], file)."""
    w, h = size
    c = colour
    if mode == "I;16":
        v = c[0] * 257
        return np.full(3, v / 65535), png16(np.full((h, w), v))
    if mode == "I":
        v = c[0] * 200
        return np.full(3, v / 65535), encode(Image.fromarray(np.full((h, w), v, np.int32)),
                                             "TIFF")
    if mode == "F":
        v = c[0] / 255
        return np.full(3, v), encode(Image.fromarray(np.full((h, w), v, np.float32)), "TIFF")
    if mode == "1":
        v = 1.0 if c[0] > 127 else 0.0
        return np.full(3, v), encode(Image.new("1", size, int(v)))
    if mode == "CMYK":
        rgb = (255 - np.array(c[:3])) * (255 - c[3]) / 255 / 255
        return rgb, encode(Image.new("CMYK", size, c[:4]), "TIFF")
    if mode == "L":
        return np.full(3, c[0] / 255), encode(Image.new("L", size, c[0]))
    if mode == "LA":
        v = (c[0] * c[3] + 255 * (255 - c[3])) / 255 / 255
        return np.full(3, v), encode(Image.new("LA", size, (c[0], c[3])))
    if mode == "RGB":
        return np.array(c[:3]) / 255, encode(Image.new("RGB", size, c[:3]))
    if mode == "RGBA":
        rgb = (np.array(c[:3]) * c[3] + 255 * (255 - c[3])) / 255 / 255
        return rgb, encode(Image.new("RGBA", size, c[:4]))
    if mode == "RGB+transparency":  # the colour key makes every pixel transparent
        return np.ones(3), encode(Image.new("RGB", size, c[:3]), transparency=c[:3])
    p = Image.new("P", size, 1)
    p.putpalette([0, 0, 0, *c[:3]] + [0] * 762)
    if mode == "P+transparency":  # index 1 is transparent: all white
        return np.ones(3), encode(p, transparency=1)
    return np.array(c[:3]) / 255, encode(p)


sizes = st.tuples(st.integers(1, 40), st.integers(1, 40))
colours = st.tuples(*[st.integers(0, 255)] * 4)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mode=st.sampled_from(MODES), colour=colours, size=sizes, out=sizes,
       target=st.sampled_from(["rgb", "gray"]))
def test_any_mode_reads_as_the_right_uniform_colour(mode, colour, size, out, target):
    rgb, file = uniform_image(mode, colour, size)
    x = read_image(file, out, target)
    assert x.dtype == np.float32 and x.shape == (3 if target == "rgb" else 1, *out)
    want = rgb if target == "rgb" else np.array([LUMA @ rgb])
    # 8-bit images are rounded to 1/255 at each Pillow step (composite, gray conversion)
    tolerance = 1e-6 if mode in ("I;16", "I", "F") else 2.5 / 255
    np.testing.assert_allclose(x, np.broadcast_to(want[:, None, None], x.shape),
                               atol=tolerance)


@settings(max_examples=100, deadline=None)
@given(mode=st.sampled_from(["L", "RGB", "RGBA", "LA", "P", "I;16", "CMYK"]), size=sizes,
       out=sizes, target=st.sampled_from(["rgb", "gray"]), seed=st.integers(0, 2**32 - 1))
def test_any_noise_image_reads_in_range(mode, size, out, target, seed):
    rng = np.random.default_rng(seed)
    w, h = size
    if mode == "I;16":
        a = rng.integers(0, 65536, (h, w))
        file = png16(a)
        x = read_image(file, (h, w), "gray")  # same size: exactly a / 65535
        np.testing.assert_allclose(x[0], a / 65535, rtol=1e-6)
        file.seek(0)
    else:
        bands = len(Image.new(mode, (1, 1)).getbands())
        a = rng.integers(0, 256, (h, w, bands), dtype=np.uint8)
        im = Image.frombytes(mode, size, a.tobytes())
        file = encode(im, "TIFF" if mode == "CMYK" else "PNG")
    x = read_image(file, out, target)
    assert x.shape == (3 if target == "rgb" else 1, *out)
    assert np.isfinite(x).all() and x.min() >= 0 and x.max() <= 1
