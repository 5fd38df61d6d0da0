"""numpy twin of ``kernels/cpu/proposal.py`` (RPN proposals): the same names and signatures,
written with numpy float32 scalars where MXNet computes in C++ floats. The tests trust it."""
from __future__ import annotations

import numpy as np

__all__ = ["proposal_boxes", "proposal_select"]

F = np.float32


def proposal_boxes(scores, deltas, im_info, anchors, stride, min_scale, iou_loss, props):
    B, A, H, W = scores.shape
    for b in range(B):
        ih, iw, sc = (F(v) for v in im_info[b])
        for j in range(H):
            for k in range(W):
                for i in range(A):
                    x1, y1, x2, y2 = (F(anchors[i, q] + (k if q % 2 == 0 else j) * stride)
                                      for q in range(4))
                    d = [F(deltas[b, 4 * i + q, j, k]) for q in range(4)]
                    if iou_loss:
                        p = [x1 + d[0], y1 + d[1], x2 + d[2], y2 + d[3]]
                    else:
                        w, h = F(x2 - x1 + 1.0), F(y2 - y1 + 1.0)
                        cx, cy = F(x1 + 0.5 * (w - 1.0)), F(y1 + 0.5 * (h - 1.0))
                        pcx, pcy = F(d[0] * w + cx), F(d[1] * h + cy)
                        pw = F(F(np.exp(np.float64(d[2]))) * w)
                        ph = F(F(np.exp(np.float64(d[3]))) * h)
                        p = [F(pcx - 0.5 * (pw - 1.0)), F(pcy - 0.5 * (ph - 1.0)),
                             F(pcx + 0.5 * (pw - 1.0)), F(pcy + 0.5 * (ph - 1.0))]
                    p = [min(max(F(v), F(0)), lim) for v, lim in
                         zip(p, (iw - F(1), ih - F(1), iw - F(1), ih - F(1)))]
                    s = scores[b, i, j, k]
                    if j >= int(im_info[b, 0] / stride) or k >= int(im_info[b, 1] / stride):
                        s = -1.0
                    m = F(min_scale * sc)
                    if F(p[2] - p[0] + 1) < m or F(p[3] - p[1] + 1) < m:
                        half = F(m / 2)
                        p = [p[0] - half, p[1] - half, p[2] + half, p[3] + half]
                        s = -1.0
                    props[b, (j * W + k) * A + i] = p + [s]


def proposal_select(props, pre_n, keep_n, thresh, out, out_score):
    B = props.shape[0]
    post_n = out.shape[0] // B
    for b in range(B):
        rows = props[b][np.argsort(-props[b, :, 4], kind="stable")[:pre_n]].astype(F)
        area = (rows[:, 2] - rows[:, 0] + F(1)) * (rows[:, 3] - rows[:, 1] + F(1))
        gone = np.zeros(len(rows), bool)
        keep = []
        for q in range(len(rows)):
            if len(keep) >= keep_n:
                break
            if gone[q]:
                continue
            keep.append(q)
            lo = np.maximum(rows[q, :2], rows[:, :2])
            hi = np.minimum(rows[q, 2:4], rows[:, 2:4])
            inter = np.prod(np.maximum(F(0), hi - lo + F(1)), axis=1)
            ovr = inter / (area[q] + area - inter)
            later = np.arange(len(rows)) > q
            gone |= later & (ovr > F(thresh))
        chosen = rows[[keep[q % len(keep)] for q in range(post_n)]]
        out[b * post_n:(b + 1) * post_n, 0] = b
        out[b * post_n:(b + 1) * post_n, 1:] = chosen[:, :4]
        out_score[b * post_n:(b + 1) * post_n, 0] = chosen[:, 4]
