/// <reference lib="dom" />
/**
 * The drawing pad: white ink on black (MNIST's convention) with mouse, pen or finger, and a
 * drop target for PNG/JPEG files. It hands out what is drawn as a grey image, which the page
 * fits to the model's input exactly as `explain` fits a file (datasets/model_input.ts).
 *
 * @module
 */
import type { GreyImage } from "../datasets/image.ts";
import { drawGrey } from "./views.ts";

/** A pad on `canvas`; `onStroke` runs after each stroke, `onDrop` with a dropped file. */
export class Pad {
  #drawing = false;
  #last: [number, number] | null = null;
  readonly #ctx: CanvasRenderingContext2D;

  constructor(
    readonly canvas: HTMLCanvasElement,
    onStroke: () => void,
    onDrop: (file: File) => void,
  ) {
    this.#ctx = canvas.getContext("2d", { willReadFrequently: true })!;
    this.clear();
    const at = (ev: PointerEvent): [number, number] => {
      const b = canvas.getBoundingClientRect();
      return [
        (ev.clientX - b.left) * canvas.width / b.width,
        (ev.clientY - b.top) * canvas.height / b.height,
      ];
    };
    canvas.addEventListener("pointerdown", (ev) => {
      canvas.setPointerCapture(ev.pointerId);
      this.#drawing = true;
      this.#last = at(ev);
      this.#line(this.#last, this.#last);
    });
    canvas.addEventListener("pointermove", (ev) => {
      if (!this.#drawing || !this.#last) return;
      const p = at(ev);
      this.#line(this.#last, p);
      this.#last = p;
    });
    const end = () => {
      if (!this.#drawing) return;
      this.#drawing = false;
      this.#last = null;
      onStroke();
    };
    canvas.addEventListener("pointerup", end);
    canvas.addEventListener("pointercancel", end);
    canvas.addEventListener("dragover", (ev) => ev.preventDefault());
    canvas.addEventListener("drop", (ev) => {
      ev.preventDefault();
      const file = ev.dataTransfer?.files[0];
      if (file) onDrop(file);
    });
  }

  #line(a: [number, number], b: [number, number]): void {
    const ctx = this.#ctx;
    ctx.strokeStyle = "#fff";
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    ctx.lineWidth = this.canvas.width / 12; // about MNIST's stroke after fitting into 20 of 28
    ctx.beginPath();
    ctx.moveTo(a[0], a[1]);
    ctx.lineTo(b[0], b[1]);
    ctx.stroke();
  }

  /** Clears to black. */
  clear(): void {
    this.#ctx.fillStyle = "#000";
    this.#ctx.fillRect(0, 0, this.canvas.width, this.canvas.height);
  }

  /** Shows `grey` (h, w) filling the pad, so drawing can continue over it. */
  show(grey: Float32Array, w: number, h: number): void {
    this.clear();
    const zoom = Math.min(this.canvas.width / w, this.canvas.height / h);
    drawGrey(this.#ctx, grey, w, h, 0, 0, zoom);
  }

  /** What is on the pad, as luminance in [0, 1]. */
  image(): GreyImage {
    const { width, height } = this.canvas;
    const rgba = this.#ctx.getImageData(0, 0, width, height).data;
    const data = new Float32Array(width * height);
    for (let i = 0; i < data.length; i++) {
      data[i] = (0.299 * rgba[4 * i] + 0.587 * rgba[4 * i + 1] + 0.114 * rgba[4 * i + 2]) / 255;
    }
    return { width, height, data };
  }

  /** Whether anything is drawn. */
  isEmpty(): boolean {
    return this.image().data.every((v) => v === 0);
  }
}
