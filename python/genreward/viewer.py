"""The window of ``render_mode="human"``: each rendered frame shown as it comes, at the env's
real-time rate (Meta-World's 80 steps a second) unless the caller is slower.

The window is drawn with pygame when it is installed (Gymnasium's own choice for its human
modes) and otherwise with Python's tkinter, so nothing beyond the standard library is needed.
"""

from __future__ import annotations

import time
from typing import Optional

import numpy as np

BACKENDS = ("pygame", "tk")


class ViewerError(RuntimeError):
    """No window can be opened (no display, or neither pygame nor tkinter)."""


class Viewer:
    """A window showing ``uint8 [H, W, 3]`` frames.

    Args:
        title: the window's title.
        fps: frames a second to keep to (``None`` or 0: as fast as frames come).
        backend: ``"pygame"``, ``"tk"`` or ``None`` (pygame if installed, else tk).
    """

    def __init__(self, title: str, fps: Optional[float] = None, backend: Optional[str] = None):
        if backend is not None and backend not in BACKENDS:
            raise ValueError(f"unknown viewer backend '{backend}' (one of {', '.join(BACKENDS)})")
        self.title = title
        self.period = 1.0 / fps if fps else 0.0
        self.backend = backend or ("pygame" if _has_pygame() else "tk")
        self._last = None
        self._window = None
        self._size = None
        self.frame: Optional[np.ndarray] = None
        self.closed = False

    def show(self, frame: np.ndarray) -> None:
        """Draws ``frame`` (uint8 ``[H, W, 3]``), waiting first if the last one is too recent."""
        if self.closed:
            return
        frame = np.ascontiguousarray(frame, dtype=np.uint8)
        if frame.ndim != 3 or frame.shape[2] != 3:
            raise ValueError(f"a frame is [H, W, 3] uint8, got shape {frame.shape}")
        if self._window is None or self._size != frame.shape[:2]:
            self._open(frame.shape[1], frame.shape[0])
        if self._last is not None and self.period > 0:
            wait = self._last + self.period - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
        self._last = time.perf_counter()
        self.frame = frame
        if self.backend == "pygame":
            self._show_pygame(frame)
        else:
            self._show_tk(frame)

    def _open(self, width: int, height: int) -> None:
        self.close_window()
        self.closed = False
        try:
            if self.backend == "pygame":
                import pygame

                pygame.display.init()
                pygame.display.set_caption(self.title)
                self._window = pygame.display.set_mode((width, height))
            else:
                import tkinter

                root = tkinter.Tk()
                root.title(self.title)
                root.protocol("WM_DELETE_WINDOW", self.close_window)
                image = tkinter.PhotoImage(master=root, width=width, height=height)
                label = tkinter.Label(root, image=image, borderwidth=0)
                label.pack()
                self._window = (root, image, label)
        except ImportError as e:
            raise ViewerError(
                f"render_mode='human' needs a window toolkit: install pygame, or a Python with tkinter ({e})"
            ) from None
        except Exception as e:  # tkinter.TclError, pygame.error: no display and the like
            message = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise ViewerError(f"cannot open a window for render_mode='human': {message}") from None
        self._size = (height, width)

    def _show_pygame(self, frame: np.ndarray) -> None:
        import pygame

        for event in pygame.event.get():
            if event.type == pygame.QUIT:
                self.close_window()
                return
        surface = pygame.surfarray.make_surface(frame.swapaxes(0, 1))
        self._window.blit(surface, (0, 0))
        pygame.display.flip()

    def _show_tk(self, frame: np.ndarray) -> None:
        root, image, _ = self._window
        h, w, _ = frame.shape
        # A binary PPM is the one raw format every Tk reads without extra packages.
        ppm = b"P6 %d %d 255\n" % (w, h) + frame.tobytes()
        image.configure(data=ppm, format="PPM")
        root.update()

    def pixel(self, x: int, y: int) -> tuple:
        """The window's pixel at ``(x, y)`` as drawn (for checks), as ``(r, g, b)``."""
        if self._window is None:
            raise ViewerError("the window is not open")
        if self.backend == "pygame":
            c = self._window.get_at((x, y))
            return (c.r, c.g, c.b)
        got = self._window[1].get(x, y)  # a tuple of ints, or "r g b" from older Tk
        if isinstance(got, str):
            got = got.split()
        return tuple(int(v) for v in got)

    def close_window(self) -> None:
        """Closes the window; the next :meth:`show` opens a new one."""
        window, self._window = self._window, None
        self.closed = True
        if window is None:
            return
        if self.backend == "pygame":
            import pygame

            pygame.display.quit()
        else:
            try:
                window[0].destroy()
            except Exception:
                pass


def _has_pygame() -> bool:
    try:
        import pygame  # noqa: F401
    except ImportError:
        return False
    return True
