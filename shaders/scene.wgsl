// Scene shader for the observation renderer (crates/render).
//
// One draw per mesh per view; every instance carries its own pose, scale and
// colour, so a whole batch of worlds and cameras is drawn from one instance
// buffer. Lighting: a key light, a fill light from the camera side and a sky /
// ground ambient term, enough to tell table, arm, gripper, object and goal
// apart at 64x64 without shadows.

struct ViewUniform {
    view_proj: mat4x4<f32>,
    // xyz: camera position in the world.
    eye: vec4<f32>,
};

@group(0) @binding(0) var<uniform> view: ViewUniform;

struct VertexIn {
    @location(0) position: vec3<f32>,
    @location(1) normal: vec3<f32>,
};

struct InstanceIn {
    // Rotation quaternion (x, y, z, w).
    @location(2) rotation: vec4<f32>,
    // xyz: translation; w: unused.
    @location(3) translation: vec4<f32>,
    // xyz: scale of the unit mesh; w: specular strength.
    @location(4) scale: vec4<f32>,
    // rgb: albedo; a: emissive share (the goal marker glows a little).
    @location(5) color: vec4<f32>,
};

struct VertexOut {
    @builtin(position) clip: vec4<f32>,
    @location(0) world: vec3<f32>,
    @location(1) normal: vec3<f32>,
    @location(2) color: vec4<f32>,
    @location(3) specular: f32,
};

fn rotate(q: vec4<f32>, v: vec3<f32>) -> vec3<f32> {
    let t = 2.0 * cross(q.xyz, v);
    return v + q.w * t + cross(q.xyz, t);
}

@vertex
fn vs_main(v: VertexIn, i: InstanceIn) -> VertexOut {
    var out: VertexOut;
    let world = i.translation.xyz + rotate(i.rotation, v.position * i.scale.xyz);
    out.clip = view.view_proj * vec4<f32>(world, 1.0);
    out.world = world;
    // Normals of a scaled mesh transform with the inverse scale.
    out.normal = rotate(i.rotation, v.normal / i.scale.xyz);
    out.color = i.color;
    out.specular = i.scale.w;
    return out;
}

const KEY_DIR: vec3<f32> = vec3<f32>(0.35, -0.45, 0.82);
const SKY: vec3<f32> = vec3<f32>(0.62, 0.66, 0.72);
const GROUND: vec3<f32> = vec3<f32>(0.28, 0.25, 0.22);

@fragment
fn fs_main(f: VertexOut) -> @location(0) vec4<f32> {
    let n = normalize(f.normal);
    let to_eye = normalize(view.eye.xyz - f.world);
    let key = normalize(KEY_DIR);
    let diffuse = max(dot(n, key), 0.0);
    // Fill light from the camera keeps faces turned away from the key readable.
    let fill = 0.25 * max(dot(n, to_eye), 0.0);
    let hemi = mix(GROUND, SKY, 0.5 + 0.5 * n.z);
    let h = normalize(key + to_eye);
    let spec = f.specular * pow(max(dot(n, h), 0.0), 32.0);
    let albedo = f.color.rgb;
    let lit = albedo * (0.85 * diffuse + fill + 0.45 * hemi) + vec3<f32>(spec);
    let rgb = mix(lit, albedo, f.color.a);
    return vec4<f32>(clamp(rgb, vec3<f32>(0.0), vec3<f32>(1.0)), 1.0);
}
