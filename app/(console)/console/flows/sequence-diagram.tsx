import type { FlowStep, Lane } from '#lib/console/flows';
import { LANE_LABELS, LANES } from '#lib/console/flows';

const LANE_WIDTH = 190;
const ROW = 34;
const TOP = 46;

/** A sequence diagram of a flow as inline SVG: one lifeline per party, one numbered arrow per step. */
export function SequenceDiagram({ steps }: { steps: readonly FlowStep[] }) {
  const used = LANES.filter((l) => steps.some((s) => s.from === l || s.to === l));
  const x = (lane: Lane) => used.indexOf(lane) * LANE_WIDTH + LANE_WIDTH / 2;
  const width = used.length * LANE_WIDTH;
  const height = TOP + steps.length * ROW + 20;
  return (
    <div className="seq">
      <svg width={width} height={height} viewBox={`0 0 ${width} ${height}`} role="img" aria-label="Sequence diagram of the flow">
        <defs>
          {(['ok', 'error', 'warning', 'info'] as const).map((o) => (
            <marker key={o} id={`arrow-${o}`} viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
              <path d="M 0 0 L 10 5 L 0 10 z" fill={o === 'error' ? '#b42318' : o === 'warning' ? '#dc6803' : '#0b5cad'} />
            </marker>
          ))}
        </defs>
        {used.map((lane) => (
          <g key={lane}>
            <text className="lane-label" x={x(lane)} y={20} textAnchor="middle">
              {LANE_LABELS[lane]}
            </text>
            <line className="lifeline" x1={x(lane)} x2={x(lane)} y1={30} y2={height - 6} />
          </g>
        ))}
        {steps.map((s, i) => {
          const y = TOP + i * ROW + 14;
          const x1 = x(s.from);
          const x2 = x(s.to);
          const cls = s.outcome === 'ok' || s.outcome === 'info' ? '' : s.outcome;
          const self = x1 === x2;
          const labelX = self ? x1 + 40 : (x1 + x2) / 2;
          return (
            <g key={s.key}>
              <circle className={`dot ${cls}`} cx={12} cy={y - 4} r={9} />
              <text className="num" x={12} y={y} textAnchor="middle">
                {i + 1}
              </text>
              {self ? (
                <path className={`arrow ${cls}`} d={`M ${x1} ${y - 8} h 30 v 12 h -28`} fill="none" markerEnd={`url(#arrow-${s.outcome})`} />
              ) : (
                <line className={`arrow ${cls}`} x1={x1} x2={x2 + (x2 > x1 ? -2 : 2)} y1={y} y2={y} markerEnd={`url(#arrow-${s.outcome})`} />
              )}
              <text className="msg" x={labelX} y={y - 5} textAnchor={self ? 'start' : 'middle'}>
                {s.label.length > 42 ? `${s.label.slice(0, 42)}…` : s.label}
              </text>
            </g>
          );
        })}
      </svg>
    </div>
  );
}
